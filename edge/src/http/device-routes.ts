import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { profilesDir } from "@steinmetz/firmware-config";
import mqtt, { type MqttClient } from "mqtt";
import { DevicePoller } from "../acquisition/device-poller.js";
import { ModbusConnection } from "../acquisition/modbus-connection.js";
import type { NewReading } from "../buffer/types.js";
import type { DeviceConfig } from "../config/site-schema.js";
import type { EdgeErrorCode } from "../errors.js";
import { MqttDevice } from "../mqtt/mqtt-device.js";
import { loadMqttProfile, loadProfile } from "../profile/load-profile.js";
import { scan } from "../scan.js";
import type { EdgeHttpDeps } from "./deps.js";
import { QUALITY_WORDS, unitOf } from "./live-snapshot.js";
import { HttpProblem } from "./problem.js";

/** One entry of the profile library. */
export interface ProfileSummary {
  ref: string;
  class: string;
  brand: string;
  product: string;
  protocol: string;
  transport: "modbus" | "mqtt";
  vars: string[];
  defaults: { port?: number; unitId?: number };
}

/** Every profile under firmware-config/profiles, checked, sorted by reference. */
export function profileLibrary(dir = profilesDir): ProfileSummary[] {
  const refs = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .flatMap((d) =>
      readdirSync(join(dir, d.name))
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => `${d.name}/${f.slice(0, -5)}`),
    )
    .sort();
  return refs.map((ref) => {
    try {
      const { profile } = loadProfile(ref);
      const { brand, product, protocol, defaults } = profile;
      return { ref, class: profile.class, brand, product, protocol, transport: "modbus", vars: [], defaults };
    } catch {
      const { profile } = loadMqttProfile(ref);
      const { brand, product, protocol, vars } = profile;
      return { ref, class: profile.class, brand, product, protocol, transport: "mqtt", vars, defaults: {} };
    }
  });
}

const Transport = Type.Union([
  Type.Object({
    type: Type.Union([Type.Literal("tcp"), Type.Literal("rtu-over-tcp")]),
    host: Type.String({ minLength: 1, maxLength: 253 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
  }),
  Type.Object({
    type: Type.Literal("rtu"),
    path: Type.String({ minLength: 1 }),
    baudRate: Type.Integer({ minimum: 1200, maximum: 921_600 }),
    parity: Type.Union([Type.Literal("none"), Type.Literal("even"), Type.Literal("odd")]),
  }),
]);
const ProfileRef = Type.String({ pattern: "^[a-z0-9-]+/[a-z0-9-]+$" });

/**
 * The add-device wizard: the profile library, a bus scan, a test read of a device with a
 * profile (through the agent's own connection when the link is already configured, so a
 * device with a single Modbus TCP slot is not asked twice), and the first message of an MQTT
 * device. Scans and test reads run one at a time.
 */
export const deviceRoutes: FastifyPluginAsyncTypebox<{ deps: EdgeHttpDeps }> = async (app, { deps }) => {
  let library: ProfileSummary[] | undefined;
  let busy: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(work: () => Promise<T>): Promise<T> => {
    const run = busy.then(work, work);
    busy = run.catch(() => {});
    return run;
  };

  app.get(
    "/api/v1/profiles",
    {
      config: { access: "viewer" },
      schema: { tags: ["devices"], querystring: Type.Object({ q: Type.Optional(Type.String({ maxLength: 100 })) }) },
    },
    async (req) => {
      library ??= profileLibrary();
      const words = (req.query.q ?? "").toLowerCase().split(/\s+/).filter(Boolean);
      return library.filter((p) => {
        const text = `${p.ref} ${p.brand} ${p.product} ${p.class} ${p.protocol}`.toLowerCase();
        return words.every((w) => text.includes(w));
      });
    },
  );

  app.post(
    "/api/v1/scan",
    {
      schema: {
        tags: ["devices"],
        body: Type.Object({
          transport: Transport,
          unitIds: Type.Optional(
            Type.Array(Type.Integer({ minimum: 0, maximum: 255 }), { minItems: 1, maxItems: 32, uniqueItems: true }),
          ),
          timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 10_000 })),
        }),
      },
    },
    async (req) =>
      oneAtATime(() =>
        scan({
          transport: req.body.transport,
          unitIds: req.body.unitIds,
          timeoutMs: req.body.timeoutMs,
          log: deps.log.child({ component: "scan" }),
        }),
      ),
  );

  app.post(
    "/api/v1/test-read",
    {
      schema: {
        tags: ["devices"],
        body: Type.Object({
          connection: Type.Union([Type.Object({ id: Type.String() }), Transport]),
          unitId: Type.Optional(Type.Integer({ minimum: 0, maximum: 255 })),
          profile: ProfileRef,
        }),
      },
    },
    async (req) => {
      const loaded = loadProfile(req.body.profile);
      const { connection: given } = req.body;
      const shared = "id" in given ? deps.modbusConnection(given.id) : undefined;
      if ("id" in given && !shared) {
        throw new HttpProblem("EDGE_ERR_NOT_FOUND", `no Modbus connection "${given.id}" is configured`, {
          problems: [{ path: "/connection/id", message: "not a configured Modbus connection" }],
        });
      }
      const connection =
        shared ??
        new ModbusConnection(
          {
            id: "test-read",
            ...(given as Exclude<typeof given, { id: string }>),
            timeoutMs: 2000,
            delayBetweenRequestsMs: 0,
            pauseAfterConnectMs: 0,
            maxRegistersPerRead: 125,
          },
          deps.log.child({ component: "test-read" }),
        );
      const device: DeviceConfig = {
        id: "test-read",
        connection: "test-read",
        unitId: req.body.unitId,
        profile: req.body.profile,
        pollIntervalMs: 1000,
        slowEvery: 1,
      };
      let readings: NewReading[] = [];
      const poller = new DevicePoller(device, {
        connection,
        profile: loaded,
        commit: (r) => {
          readings = r;
        },
        log: deps.log.child({ component: "test-read" }),
      });
      const started = Date.now();
      try {
        const ok = await oneAtATime(() => poller.cycle());
        if (!ok) {
          const error = poller.state.lastError ?? { code: "EDGE_ERR_MODBUS_CONNECT", message: "read failed" };
          throw new HttpProblem(error.code as EdgeErrorCode, error.message);
        }
      } finally {
        if (!shared) await connection.close();
      }
      return {
        durationMs: Date.now() - started,
        requests: poller.state.requestsPerCycle,
        values: readings.map((r) => ({
          point: r.point,
          value: r.value,
          unit: unitOf(loaded.nature, r.point),
          quality: QUALITY_WORDS[r.quality] ?? "unknown",
        })),
      };
    },
  );

  app.post(
    "/api/v1/mqtt-test",
    {
      schema: {
        tags: ["devices"],
        body: Type.Object({
          connection: Type.Union([
            Type.Object({ id: Type.String() }),
            Type.Object({
              url: Type.String({ pattern: "^mqtts?://" }),
              username: Type.Optional(Type.String()),
              password: Type.Optional(Type.String()),
            }),
          ]),
          profile: ProfileRef,
          vars: Type.Record(Type.String(), Type.String(), { default: {} }),
          timeoutMs: Type.Integer({ minimum: 1000, maximum: 60_000, default: 15_000 }),
        }),
      },
    },
    async (req) => {
      const loaded = loadMqttProfile(req.body.profile);
      const { connection: given, timeoutMs, vars } = req.body;
      let client: MqttClient | undefined = "id" in given ? deps.mqttClient(given.id) : undefined;
      if ("id" in given && !client) {
        throw new HttpProblem("EDGE_ERR_NOT_FOUND", `no MQTT connection "${given.id}" is configured`, {
          problems: [{ path: "/connection/id", message: "not a configured MQTT connection" }],
        });
      }
      const own = !client;
      if (!client) {
        const { url, username, password } = given as { url: string; username?: string; password?: string };
        try {
          client = await mqtt.connectAsync(url, { username, password, connectTimeout: 5000, reconnectPeriod: 0 });
        } catch (err) {
          throw new HttpProblem("EDGE_ERR_MQTT", `broker ${url}: ${(err as Error).message}`);
        }
      }
      const device: DeviceConfig = {
        id: "mqtt-test",
        connection: "mqtt-test",
        profile: req.body.profile,
        pollIntervalMs: 1000,
        slowEvery: 1,
        vars,
      };
      let resolveFirst: (r: { topic: string; readings: NewReading[] }) => void = () => {};
      const first = new Promise<{ topic: string; readings: NewReading[] }>((resolve) => {
        resolveFirst = resolve;
      });
      let topic = "";
      const onMessage = (t: string) => {
        topic = t;
      };
      client.on("message", onMessage);
      const mqttDevice = new MqttDevice(device, {
        client,
        profile: loaded,
        commit: (readings) => resolveFirst({ topic, readings }),
        deadLetter: () => {},
        log: deps.log.child({ component: "mqtt-test" }),
      });
      mqttDevice.start();
      let timer: NodeJS.Timeout | undefined;
      try {
        const result = await Promise.race([
          first,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new HttpProblem("EDGE_ERR_MQTT_STALE", `no valid message within ${Math.round(timeoutMs / 1000)} s`),
                ),
              timeoutMs,
            );
          }),
        ]);
        return {
          topic: result.topic,
          values: result.readings.map((r) => ({
            point: r.point,
            value: r.value,
            unit: unitOf(loaded.nature, r.point),
            quality: QUALITY_WORDS[r.quality] ?? "unknown",
          })),
        };
      } finally {
        clearTimeout(timer);
        mqttDevice.stop({ keepSubscriptions: !own });
        client.off("message", onMessage);
        if (own) await client.endAsync();
      }
    },
  );
};
