import { randomBytes } from "node:crypto";
import mqtt, { type MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { DeadLetter, NewReading } from "../buffer/reading-buffer.js";
import type { LoadedSite } from "../config/load-site.js";
import { type EmbeddedBroker, startBroker } from "./broker.js";
import { MqttDevice } from "./mqtt-device.js";
import { hashPassword } from "./password.js";

/** What the MQTT side of a site needs from the agent. */
export interface MqttSiteDeps {
  log: Logger;
  commit: (device: string, readings: NewReading[]) => void;
  deadLetter: (entry: DeadLetter) => void;
  onMalformed: (device: string) => void;
  /** A device's status changed. */
  onChange?: () => void;
  clockSynced: () => boolean;
}

/** The running MQTT part of a site. */
export interface MqttSite {
  devices: MqttDevice[];
  /** Port of the embedded broker when it runs. */
  brokerPort: number | undefined;
  /** The agent's client of an MQTT connection. */
  client(connectionId: string): MqttClient | undefined;
  close(): Promise<void>;
}

/**
 * Starts the embedded broker when the site enables it, one client per MQTT connection (the
 * embedded broker is reached with an internal account created for this run), and one MqttDevice
 * per device on those connections.
 */
export async function startMqttSite(site: LoadedSite, deps: MqttSiteDeps): Promise<MqttSite> {
  const { config } = site;
  const log = deps.log.child({ component: "mqtt" });
  let broker: EmbeddedBroker | undefined;
  const internal = { username: "edge-agent", password: randomBytes(18).toString("base64url") };
  if (config.mqttBroker?.enabled) {
    broker = await startBroker({
      host: config.mqttBroker.host,
      port: config.mqttBroker.port,
      users: [
        ...config.mqttBroker.users,
        { username: internal.username, passwordHash: hashPassword(internal.password) },
      ],
      log,
    });
  }
  const clients = new Map<string, MqttClient>();
  for (const c of config.connections) {
    if (c.type !== "mqtt") continue;
    const url = c.embedded ? `mqtt://127.0.0.1:${broker?.port}` : (c.url as string);
    const client = mqtt.connect(url, {
      ...(c.embedded ? internal : { username: c.username, password: c.password }),
      clientId: `steinmetz-edge-${c.id}-${randomBytes(3).toString("hex")}`,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
    });
    let lastError = "";
    client.on("error", (err) => {
      // Logged once per distinct error, not on every reconnect attempt.
      if (err.message !== lastError)
        log.warn({ connection: c.id, err: { message: err.message } }, "MQTT connection error");
      lastError = err.message;
    });
    client.on("connect", () => {
      if (lastError) log.info({ connection: c.id }, "MQTT connected");
      lastError = "";
    });
    clients.set(c.id, client);
  }
  const devices = config.devices.flatMap((device) => {
    const client = clients.get(device.connection);
    const profile = site.mqttProfiles.get(device.profile);
    if (!client || !profile) return [];
    const d = new MqttDevice(device, {
      client,
      profile,
      log: deps.log.child({ device: device.id }),
      commit: (readings) => deps.commit(device.id, readings),
      deadLetter: deps.deadLetter,
      onMalformed: () => deps.onMalformed(device.id),
      onChange: deps.onChange,
      clockSynced: deps.clockSynced,
    });
    d.start();
    return [d];
  });
  return {
    devices,
    brokerPort: broker?.port,
    client: (connectionId) => clients.get(connectionId),
    async close() {
      for (const d of devices) d.stop();
      await Promise.all([...clients.values()].map((c) => c.endAsync()));
      await broker?.close();
    },
  };
}
