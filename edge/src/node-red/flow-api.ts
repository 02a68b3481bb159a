/**
 * The edge's in-process API for Node-RED flows (`RED.settings.steinmetz` in our nodes): the
 * readings as the buffer committed them, device state changes, the device list with units and
 * writable points, bounded and verified writes through the agent's shared connections, and
 * computed readings of virtual devices that enter the buffer like measured ones.
 */
import { Quality } from "@steinmetz/proto";
import type { Logger } from "pino";
import type { DeviceState } from "../acquisition/device-poller.js";
import { PointWriter, type WriteResult } from "../acquisition/writes.js";
import type { NewReading } from "../buffer/types.js";
import type { HubLimits } from "../commands/limits.js";
import { EdgeError, WriteRefusedError } from "../errors.js";
import type { SiteRuntime } from "../site-runtime.js";

/** Virtual devices (computed readings published by flows) have ids that start with this. */
export const VIRTUAL_PREFIX = "virtual.";

const VIRTUAL_ID = /^virtual\.[A-Za-z0-9][A-Za-z0-9_.-]{0,55}$/;
const POINT_ID = /^[a-z][a-z0-9_]{0,63}$/;

/** Quality of a reading as flows see it. */
export type QualityName = "good" | "not-implemented" | "stale" | "comm-error" | "out-of-range" | "unspecified";

const QUALITY_NAMES: Record<number, QualityName> = {
  [Quality.QUALITY_GOOD]: "good",
  [Quality.QUALITY_NOT_IMPLEMENTED]: "not-implemented",
  [Quality.QUALITY_STALE]: "stale",
  [Quality.QUALITY_COMM_ERROR]: "comm-error",
  [Quality.QUALITY_OUT_OF_RANGE]: "out-of-range",
};

/** One reading as committed to the buffer, with its seq. */
export interface FlowReading {
  seq: number;
  deviceId: string;
  point: string;
  /** Acquisition time, ms since epoch. */
  ts: number;
  /** Null when the device gave no value (see `quality`). */
  value: number | null;
  quality: QualityName;
  /** Whether the edge clock was synchronised when the reading was taken. */
  clockSynced: boolean;
  /** The point's unit from the device class's nature ("" when none or unknown). */
  unit: string;
}

/** A device's state changed (ok ↔ fault, or from unknown). */
export interface FlowDeviceState {
  deviceId: string;
  status: DeviceState["status"];
  previous: DeviceState["status"];
  /** When the new status began (ms since epoch). */
  since: number;
  /** The fault's stable code (e.g. `EDGE_ERR_MODBUS_TIMEOUT`) and the device's own words; null when ok. */
  code: string | null;
  message: string | null;
}

/** How a point may be written (the profile's `write` declaration). */
export interface FlowPointWrite {
  min: number | null;
  max: number | null;
  refuse: number[];
  verify: boolean;
}

/** A point of a device as flows see it. */
export interface FlowPoint {
  id: string;
  unit: string;
  /** Present when the profile declares the point writable. */
  write: FlowPointWrite | null;
}

/** A configured (or virtual) device. */
export interface FlowDevice {
  id: string;
  class: string;
  profile: string;
  /** True for a virtual device a flow published to. */
  virtual: boolean;
  /** False while a SunSpec device's model chain is not discovered yet (its points are not known). */
  ready: boolean;
  status: DeviceState["status"];
  points: FlowPoint[];
}

/** Options of a write from a flow. */
export interface FlowWriteOptions {
  /** Who wrote (e.g. the Node-RED node id), for the log. */
  source?: string;
}

/** Options of a published reading. */
export interface FlowPublishOptions {
  /** Acquisition time (ms since epoch); now by default. */
  ts?: number;
  /** Unit shown in `devices()` for the virtual point; not stored with the reading. */
  unit?: string;
}

/** What flows can do with the edge (handed to Node-RED as `settings.steinmetz`). */
export interface EdgeFlowApi {
  /** Calls `listener` after every buffer commit with its readings in seq order; returns the unsubscribe. */
  onReadings(listener: (readings: readonly FlowReading[]) => void): () => void;
  /** Calls `listener` on every device state change; returns the unsubscribe. */
  onDeviceState(listener: (event: FlowDeviceState) => void): () => void;
  /** The current state of every device. */
  deviceStates(): FlowDeviceState[];
  /** Configured devices (then virtual ones) with their points, units and writable points. */
  devices(): FlowDevice[];
  /**
   * Writes `value` (in the point's unit) to a configured Modbus device's point through the
   * typed write API (profile bounds, refused values, read-back). Rejects with
   * `EDGE_ERR_WRITE_REFUSED`, `EDGE_ERR_WRITE_VERIFY`, a Modbus error, or `EDGE_ERR_NOT_FOUND`.
   */
  write(deviceId: string, point: string, value: number, options?: FlowWriteOptions): Promise<WriteResult>;
  /**
   * A computed reading of a virtual device (`virtual.<name>`): enters the buffer through the
   * agent's commit path, gets a seq and goes to the hub. Throws `EDGE_ERR_PUBLISH_REFUSED` for
   * a device id without the prefix or taken by a configured device, a malformed point id or a
   * value that is not a finite number.
   */
  publish(deviceId: string, point: string, value: number, options?: FlowPublishOptions): void;
}

/** What the flow API needs from the agent. */
export interface FlowApiDeps {
  log: Logger;
  runtime: SiteRuntime;
  /** The agent's commit path (latest values, then the commit batcher). */
  commit: (device: string, readings: NewReading[]) => void;
  clockSynced: () => boolean;
  now?: () => number;
  /** How often device states are compared for changes while someone listens (ms). */
  statePollMs?: number;
  /** The power limits the hub holds: a write may not lift them (see commands/limits.ts). */
  hubLimits?: HubLimits;
}

type Device = ReturnType<SiteRuntime["devices"]>[number];

/**
 * The agent's implementation of `EdgeFlowApi`. Listener calls are isolated: a listener that
 * throws is logged (once per listener) and never reaches the agent's commit path. Readings are
 * delivered after their commit, with their seqs (hooked to the commit batcher). Device states
 * are compared every `statePollMs` (250 ms) while anyone listens, so a transition reaches flows
 * within that time; Modbus and MQTT devices alike.
 */
export class FlowApi implements EdgeFlowApi {
  private readonly readingListeners = new Set<(readings: readonly FlowReading[]) => void>();
  private readonly stateListeners = new Set<(event: FlowDeviceState) => void>();
  private readonly failed = new WeakSet<object>();
  private readonly lastStatus = new Map<string, DeviceState["status"]>();
  private readonly writers = new WeakMap<object, PointWriter>();
  private readonly virtual = new Map<string, Map<string, string>>();
  private stateTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly deps: FlowApiDeps) {
    this.now = deps.now ?? Date.now;
    this.log = deps.log;
  }

  /** The agent calls this after every commit (see `CommitBatcher.onCommitted`). */
  committed(readings: readonly NewReading[], firstSeq: number): void {
    if (this.readingListeners.size === 0) return;
    const units = new Map<string, (point: string) => string>();
    const flow = readings.map((r, i): FlowReading => {
      let unitOf = units.get(r.deviceId);
      if (!unitOf) {
        unitOf = this.unitsOf(r.deviceId);
        units.set(r.deviceId, unitOf);
      }
      return {
        seq: firstSeq + i,
        deviceId: r.deviceId,
        point: r.point,
        ts: r.ts,
        value: r.value,
        quality: QUALITY_NAMES[r.quality] ?? "unspecified",
        clockSynced: r.clockSynced,
        unit: unitOf(r.point),
      };
    });
    for (const listener of this.readingListeners) this.call(listener, flow, "readings");
  }

  onReadings(listener: (readings: readonly FlowReading[]) => void): () => void {
    this.readingListeners.add(listener);
    return () => this.readingListeners.delete(listener);
  }

  onDeviceState(listener: (event: FlowDeviceState) => void): () => void {
    if (this.stateListeners.size === 0) {
      for (const d of this.deps.runtime.devices()) this.lastStatus.set(d.device.id, d.state.status);
      this.stateTimer = setInterval(() => this.compareStates(), this.deps.statePollMs ?? 250);
      this.stateTimer.unref();
    }
    this.stateListeners.add(listener);
    return () => {
      this.stateListeners.delete(listener);
      if (this.stateListeners.size === 0) {
        clearInterval(this.stateTimer);
        this.stateTimer = undefined;
      }
    };
  }

  deviceStates(): FlowDeviceState[] {
    return this.deps.runtime.devices().map((d) => stateEvent(d, d.state.status));
  }

  devices(): FlowDevice[] {
    const site = this.deps.runtime.current;
    const running = new Map(this.deps.runtime.devices().map((d) => [d.device.id, d] as const));
    const configured = site.config.devices.map((config): FlowDevice => {
      const modbus = site.profiles.get(config.profile);
      const mqtt = site.mqttProfiles.get(config.profile);
      const nature = (modbus ?? mqtt)?.nature;
      const poller = this.deps.runtime.poller(config.id);
      const points = poller ? poller.pointsRead : (modbus?.profile.points ?? mqtt?.profile.points ?? []);
      return {
        id: config.id,
        class: (modbus ?? mqtt)?.profile.class ?? config.profile.split("/")[0] ?? "",
        profile: config.profile,
        virtual: false,
        ready: poller ? poller.ready : true,
        status: running.get(config.id)?.state.status ?? "unknown",
        points: points.map((p) => {
          const w = "write" in p ? p.write : undefined;
          return {
            id: p.id,
            unit: unitIn(nature?.points, p.id),
            write:
              w && poller
                ? { min: w.min ?? null, max: w.max ?? null, refuse: w.refuse ?? [], verify: w.verify !== false }
                : null,
          };
        }),
      };
    });
    const virtual = [...this.virtual].map(
      ([id, points]): FlowDevice => ({
        id,
        class: "virtual",
        profile: "",
        virtual: true,
        ready: true,
        status: "ok",
        points: [...points].map(([point, unit]) => ({ id: point, unit, write: null })),
      }),
    );
    return [...configured, ...virtual];
  }

  async write(deviceId: string, point: string, value: number, options: FlowWriteOptions = {}): Promise<WriteResult> {
    const { runtime } = this.deps;
    const config = runtime.current.config.devices.find((d) => d.id === deviceId);
    const poller = runtime.poller(deviceId);
    const connection = config && runtime.connection(config.connection);
    if (!config) throw new EdgeError("EDGE_ERR_NOT_FOUND", `no device "${deviceId}" in the site configuration`);
    if (!poller || !connection) {
      throw new WriteRefusedError("not-writable", `${deviceId}: only Modbus devices can be written`);
    }
    if (!poller.ready) {
      throw new WriteRefusedError("not-writable", `${deviceId}: SunSpec model chain not discovered yet; retry`);
    }
    const loaded = runtime.current.profiles.get(config.profile);
    if (!loaded) throw new EdgeError("EDGE_ERR_NOT_FOUND", `${deviceId}: profile ${config.profile} is not loaded`);
    let writer = this.writers.get(poller);
    if (!writer) {
      writer = new PointWriter({
        connection,
        // The points as discovered (SunSpec) with their write declarations.
        profile: { ...loaded.profile, points: [...poller.pointsRead] },
        deviceId,
        unitId: config.unitId,
        log: this.log,
      });
      this.writers.set(poller, writer);
    }
    const source = options.source ?? "flow";
    const held = source.startsWith("hub-command:")
      ? undefined
      : this.deps.hubLimits?.breaks(deviceId, point, value, source);
    if (held) {
      this.log.warn(
        { device: deviceId, point, value, source, limitPct: held.limitPct, commandId: held.commandId },
        "a write would lift the hub's power limit: refused",
      );
      throw new WriteRefusedError(
        "limited-by-hub",
        `${deviceId}/${point}: ${value} would lift the hub's power limit of ${held.limitPct} % (command ${held.commandId}); lower limits are allowed`,
      );
    }
    this.log.debug({ device: deviceId, point, value, source }, "flow writes a point");
    return writer.write(point, value);
  }

  publish(deviceId: string, point: string, value: number, options: FlowPublishOptions = {}): void {
    const refuse = (why: string) => {
      throw new EdgeError("EDGE_ERR_PUBLISH_REFUSED", `${deviceId}/${point}: ${why}`);
    };
    if (!VIRTUAL_ID.test(deviceId)) {
      refuse(`a virtual device id starts with "${VIRTUAL_PREFIX}" followed by letters, digits, "_", "." or "-"`);
    }
    if (this.deps.runtime.current.config.devices.some((d) => d.id === deviceId)) {
      refuse("a configured device has this id");
    }
    if (!POINT_ID.test(point)) refuse("a point id is snake_case (a-z, 0-9, _), starting with a letter");
    if (typeof value !== "number" || !Number.isFinite(value)) refuse(`${String(value)} is not a finite number`);
    const ts = options.ts ?? this.now();
    if (!Number.isSafeInteger(ts) || ts <= 0) refuse(`timestamp ${ts} is not ms since epoch`);
    let points = this.virtual.get(deviceId);
    if (!points) {
      points = new Map();
      this.virtual.set(deviceId, points);
    }
    if (options.unit !== undefined || !points.has(point)) points.set(point, options.unit ?? points.get(point) ?? "");
    this.deps.commit(deviceId, [
      { deviceId, point, ts, value, quality: Quality.QUALITY_GOOD, clockSynced: this.deps.clockSynced() },
    ]);
  }

  /** Stops the state comparison and drops every listener (agent shutdown). */
  close(): void {
    clearInterval(this.stateTimer);
    this.stateTimer = undefined;
    this.readingListeners.clear();
    this.stateListeners.clear();
  }

  private compareStates(): void {
    const seen = new Set<string>();
    for (const d of this.deps.runtime.devices()) {
      const id = d.device.id;
      seen.add(id);
      const previous = this.lastStatus.get(id) ?? "unknown";
      if (previous === d.state.status) continue;
      this.lastStatus.set(id, d.state.status);
      const event = stateEvent(d, previous);
      for (const listener of this.stateListeners) this.call(listener, event, "device state");
    }
    for (const id of this.lastStatus.keys()) if (!seen.has(id)) this.lastStatus.delete(id);
  }

  /** Calls a listener; a throw is logged once per listener and goes no further. */
  private call<T>(listener: (arg: T) => void, arg: T, what: string): void {
    try {
      listener(arg);
    } catch (err) {
      if (this.failed.has(listener)) return;
      this.failed.add(listener);
      this.log.error({ err }, `a flow's ${what} listener failed (logged once; it stays subscribed)`);
    }
  }

  private unitsOf(deviceId: string): (point: string) => string {
    const virtual = this.virtual.get(deviceId);
    if (virtual) return (point) => virtual.get(point) ?? "";
    const site = this.deps.runtime.current;
    const config = site.config.devices.find((d) => d.id === deviceId);
    const nature = config && (site.profiles.get(config.profile) ?? site.mqttProfiles.get(config.profile))?.nature;
    return (point) => unitIn(nature?.points, point);
  }
}

/** A point's unit from a nature; repeated group points (`mppt_dc_power_2`) use their base id. */
function unitIn(points: Record<string, { unit: string }> | undefined, id: string): string {
  return points?.[id]?.unit ?? points?.[id.replace(/_\d+$/, "")]?.unit ?? "";
}

function stateEvent(d: Device, previous: DeviceState["status"]): FlowDeviceState {
  const { state } = d;
  return {
    deviceId: d.device.id,
    status: state.status,
    previous,
    since: state.since,
    code: state.status === "fault" ? (state.lastError?.code ?? null) : null,
    message: state.status === "fault" ? (state.lastError?.message ?? null) : null,
  };
}
