import { Quality } from "@steinmetz/proto";
import type { MqttClient } from "mqtt";
import type { Logger } from "pino";
import { type DeviceIdentity, type DeviceState, initialDeviceState } from "../acquisition/device-poller.js";
import type { DeadLetter, NewReading } from "../buffer/reading-buffer.js";
import type { DeviceConfig } from "../config/site-schema.js";
import type { LoadedMqttProfile } from "../profile/load-profile.js";
import { fillTemplate, type MqttPoint } from "../profile/mqtt-profile-schema.js";

/** What an MQTT device needs from the agent. */
export interface MqttDeviceDeps {
  client: MqttClient;
  profile: LoadedMqttProfile;
  commit: (readings: NewReading[]) => void;
  deadLetter: (entry: DeadLetter) => void;
  /** Counts a payload that yielded no reading. */
  onMalformed?: () => void;
  /** Called when the device's status changed (ok, fault). */
  onChange?: () => void;
  log: Logger;
  now?: () => number;
  clockSynced?: () => boolean;
}

/** Malformed payloads are logged at most once per topic per this interval. */
const LOG_EVERY_MS = 60_000;

/**
 * A device that publishes over MQTT: subscribes to its profile's topics (templates filled with
 * the device's `vars`), turns each message into readings of the mapped points (a JSON path into
 * the payload, or the payload itself as a number) and commits them. A message that yields no
 * reading is counted, kept as a dead letter with its raw payload, and logged once per topic per
 * minute; nothing a device sends can stop the agent. No valid message for `staleAfterMs` puts the
 * device in fault.
 */
export class MqttDevice {
  readonly state: DeviceState;
  /** The identity the profile gives (its templates filled with the device's variables); null when none. */
  readonly identity: DeviceIdentity | null;
  private readonly byTopic = new Map<string, MqttPoint[]>();
  private readonly lastLogged = new Map<string, number>();
  private lastValid = Number.NEGATIVE_INFINITY;
  private staleTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly onMessage = (topic: string, payload: Buffer) => this.handle(topic, payload);

  constructor(
    readonly device: DeviceConfig,
    private readonly deps: MqttDeviceDeps,
  ) {
    this.now = deps.now ?? Date.now;
    const vars = device.vars ?? {};
    for (const point of deps.profile.profile.points) {
      const topic = fillTemplate(point.topic, vars);
      const list = this.byTopic.get(topic) ?? [];
      list.push({ ...point, path: point.path && fillTemplate(point.path, vars) });
      this.byTopic.set(topic, list);
    }
    this.state = initialDeviceState(this.now());
    const identity = deps.profile.profile.identity;
    this.identity = identity
      ? {
          manufacturer: fillTemplate(identity.manufacturer ?? "", vars),
          model: fillTemplate(identity.model ?? "", vars),
          serialNumber: fillTemplate(identity.serialNumber ?? "", vars),
          firmware: fillTemplate(identity.firmware ?? "", vars),
        }
      : null;
  }

  /** Subscribes to the device's topics. */
  start(): void {
    this.deps.client.on("message", this.onMessage);
    this.deps.client.subscribe([...this.byTopic.keys()], { qos: 1 }, (err) => {
      if (err) this.fault("EDGE_ERR_MQTT", `subscribe failed: ${err.message}`);
    });
    const staleAfter = this.device.staleAfterMs ?? 60_000;
    this.staleTimer = setInterval(
      () => {
        if (this.state.status === "ok" && this.now() - this.lastValid > staleAfter) {
          this.fault("EDGE_ERR_MQTT_STALE", `no valid message for ${Math.round(staleAfter / 1000)} s`);
        }
      },
      Math.min(staleAfter, 5000),
    );
    this.staleTimer.unref();
  }

  /** Stops handling messages and unsubscribes (not when the client's subscriptions serve other devices too). */
  stop(options: { keepSubscriptions?: boolean } = {}): void {
    clearInterval(this.staleTimer);
    this.deps.client.off("message", this.onMessage);
    if (!options.keepSubscriptions) this.deps.client.unsubscribe([...this.byTopic.keys()]);
  }

  /** Turns one message into readings (or a dead letter). */
  handle(topic: string, payload: Buffer): void {
    const points = this.byTopic.get(topic);
    if (!points) return;
    const ts = this.now();
    const text = payload.toString("utf8");
    let json: unknown;
    let parseError: string | undefined;
    if (points.some((p) => p.path)) {
      try {
        json = JSON.parse(text);
      } catch (err) {
        parseError = `not JSON: ${(err as Error).message}`;
      }
    }
    const clockSynced = this.deps.clockSynced?.() ?? false;
    const readings: NewReading[] = [];
    for (const point of points) {
      const raw = point.path ? valueAt(json, point.path) : text.trim() === "" ? undefined : Number(text);
      const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
      if (typeof value !== "number" || !Number.isFinite(value)) continue;
      readings.push({
        deviceId: this.device.id,
        point: point.id,
        ts,
        value: value * (point.factor ?? 1),
        quality: Quality.QUALITY_GOOD,
        clockSynced,
      });
    }
    this.state.cycles++;
    if (readings.length === 0) {
      this.malformed(
        topic,
        payload,
        parseError ?? `none of ${points.map((p) => p.path ?? "the payload").join(", ")} is a number`,
      );
      return;
    }
    this.deps.commit(readings);
    this.lastValid = ts;
    if (this.state.status !== "ok") {
      this.deps.log.info({ previous: this.state.status }, "device ok");
      Object.assign(this.state, { status: "ok", since: ts, lastError: null });
      this.deps.onChange?.();
    }
  }

  private malformed(topic: string, payload: Buffer, error: string): void {
    this.state.failedCycles++;
    this.deps.onMalformed?.();
    const ts = this.now();
    this.deps.deadLetter({ ts, source: this.device.id, topic, payload, error });
    if (ts - (this.lastLogged.get(topic) ?? Number.NEGATIVE_INFINITY) >= LOG_EVERY_MS) {
      this.lastLogged.set(topic, ts);
      this.deps.log.warn({ topic, error, bytes: payload.length }, "malformed MQTT payload kept as a dead letter");
    }
  }

  private fault(code: string, message: string): void {
    if (this.state.status === "fault") return;
    this.deps.log.warn({ code }, message);
    Object.assign(this.state, { status: "fault", since: this.now(), lastError: { code, message } });
    this.deps.onChange?.();
  }
}

/** The value at a dot path (`a.b.0.c`) of parsed JSON, or undefined. */
export function valueAt(json: unknown, path: string): unknown {
  let node: unknown = json;
  for (const key of path.split(".")) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
