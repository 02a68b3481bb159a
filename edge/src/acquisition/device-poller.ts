import { Quality } from "@steinmetz/proto";
import type { Logger } from "pino";
import { Backoff } from "../backoff.js";
import type { NewReading } from "../buffer/reading-buffer.js";
import type { DeviceConfig } from "../config/site-schema.js";
import { EdgeError, ModbusExceptionError } from "../errors.js";
import type { LoadedProfile } from "../profile/load-profile.js";
import type { ProfilePoint } from "../profile/profile-schema.js";
import { discoverSunSpec, SUNSPEC_BASES } from "../sunspec/discovery.js";
import { classOfChain, pointsFromChain } from "../sunspec/points.js";
import type { Decoded } from "./decode.js";
import type { ModbusConnection } from "./modbus-connection.js";
import { decodeFromCycle, encodingOf, spansOf } from "./point-reads.js";
import { cutsFromIllegalAddress, MAX_GAP, type PlanLimits, type PlannedRead, planReads } from "./request-plan.js";

const NOT_IMPLEMENTED: Decoded = { value: null, quality: Quality.QUALITY_NOT_IMPLEMENTED };

/** A device's health as the UI and metrics see it: a state with the time it began. */
export interface DeviceState {
  status: "unknown" | "ok" | "fault";
  /** When the current status began (ms). */
  since: number;
  /** The error that put the device in fault, with its stable code. */
  lastError: { code: string; message: string } | null;
  /** Duration of the last successful cycle (ms) and the Modbus requests it took. */
  lastCycleMs: number | null;
  requestsPerCycle: number;
  cycles: number;
  failedCycles: number;
  /** Cycles that took longer than the poll interval. */
  overruns: number;
}

/** The state of a device nothing is known about yet. */
export function initialDeviceState(since: number): DeviceState {
  return {
    status: "unknown",
    since,
    lastError: null,
    lastCycleMs: null,
    requestsPerCycle: 0,
    cycles: 0,
    failedCycles: 0,
    overruns: 0,
  };
}

/**
 * Who a device says it is (SunSpec common model 1: Mn, Md, SN, Vr; or an MQTT profile's
 * identity); empty strings where it does not say.
 */
export interface DeviceIdentity {
  manufacturer: string;
  model: string;
  serialNumber: string;
  firmware: string;
}

/** What a poller needs from the agent. */
export interface DevicePollerDeps {
  connection: ModbusConnection;
  profile: LoadedProfile;
  /** Takes one cycle's readings (the agent's commit batcher). */
  commit: (readings: NewReading[]) => void;
  log: Logger;
  /** Called after every cycle with its result, duration, and whether it overran its interval. */
  onCycle?: (ok: boolean, durationMs: number, overran: boolean) => void;
  /** Called when what the device inventory shows of it changed: its status, or discovery finished. */
  onChange?: () => void;
  now?: () => number;
  clockSynced?: () => boolean;
}

/**
 * Polls one device at its interval: reads the profile's points (and, for SunSpec profiles, those
 * of the discovered model chain) in the fewest requests (see request-plan.ts) through the shared
 * connection, decodes them and hands the cycle's readings to `commit`. A failing device goes to
 * `fault` (logged once per transition, with one COMM_ERROR reading per point so the hub sees why
 * data stops) and is retried with its own backoff, never holding up other devices.
 */
export class DevicePoller {
  readonly state: DeviceState;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly backoff = new Backoff({ initialDelayMs: 1000, maxDelayMs: 60_000 });
  private readonly now: () => number;
  private readonly clockSynced: () => boolean;
  private readonly unitId: number;
  private readonly limits: PlanLimits;
  /** Addresses reads must not span, learned from exception 02 answers. */
  private readonly cuts = new Set<number>();
  /** Points the device answers exception 02 for. */
  private readonly unsupported: ProfilePoint[] = [];
  /** Reads of every point (slow cycles) and of the fast tier only. */
  private plans: { full: PlannedRead<ProfilePoint>[]; fast: PlannedRead<ProfilePoint>[] } = { full: [], fast: [] };
  private cycleIndex = 0;
  /** Report-on-change: the last committed value and quality per point, and the last snapshot. */
  private readonly lastReported = new Map<string, Decoded>();
  private lastSnapshot = Number.NEGATIVE_INFINITY;
  /** The points read: the profile's, plus those of the discovered SunSpec models. */
  private points: ProfilePoint[];
  private discovered = false;
  private found: DeviceIdentity | null = null;

  constructor(
    readonly device: DeviceConfig,
    private readonly deps: DevicePollerDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.clockSynced = deps.clockSynced ?? (() => false);
    this.state = initialDeviceState(this.now());
    const { profile } = deps.profile;
    this.points = profile.points;
    this.unitId = device.unitId ?? profile.defaults.unitId;
    this.limits = {
      maxRegisters: Math.min(profile.defaults.maxRegistersPerRead, deps.connection.config.maxRegistersPerRead),
      maxGap: deps.connection.config.maxGap ?? (deps.connection.config.type === "tcp" ? MAX_GAP.tcp : MAX_GAP.rtu),
    };
    this.replan();
  }

  /**
   * Starts polling. The first cycle starts after a random part of one interval (at most 1 s), so
   * devices configured together do not all hit their buses at the same instant.
   */
  start(): void {
    this.schedule(Math.floor(Math.random() * Math.min(this.device.pollIntervalMs, 1000)));
  }

  /** Stops polling and waits for a running cycle to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /**
   * The points this device reads: the profile's, and for a SunSpec profile, once discovered, those
   * of its model chain (with the `write` declarations of `sunspec.write`).
   */
  get pointsRead(): readonly ProfilePoint[] {
    return this.points;
  }

  /** What the device said about itself (SunSpec common model 1); null until discovered or without SunSpec. */
  get identity(): DeviceIdentity | null {
    return this.found;
  }

  /** False for a SunSpec profile until its model chain was discovered. */
  get ready(): boolean {
    return !this.deps.profile.profile.sunspec || this.discovered;
  }

  /** Runs one poll cycle; resolves true when it succeeded. */
  async cycle(): Promise<boolean> {
    const { profile } = this.deps.profile;
    const started = this.now();
    const clockSynced = this.clockSynced();
    const reading = (point: ProfilePoint, { value, quality }: Decoded): NewReading => ({
      deviceId: this.device.id,
      point: point.id,
      ts: started,
      value,
      quality,
      clockSynced,
    });
    try {
      const readings: NewReading[] = [];
      let requests = 0;
      for (const point of this.unsupported) readings.push(reading(point, NOT_IMPLEMENTED));
      if (profile.sunspec && !this.discovered) await this.discover();
      const slowCycle = this.cycleIndex++ % this.device.slowEvery === 0;
      const pending = [...(slowCycle ? this.plans.full : this.plans.fast)];
      const registers = { holding: new Map<number, number>(), input: new Map<number, number>() };
      const decoded = new Set<ProfilePoint>();
      for (let read = pending.shift(); read; read = pending.shift()) {
        requests++;
        let words: number[];
        try {
          words = await this.deps.connection.readRegisters(this.unitId, read.fn, read.address, read.count);
        } catch (err) {
          if (!(err instanceof ModbusExceptionError && err.exceptionCode === 2)) throw err;
          const instead = this.learnIllegalAddress(read);
          if (instead.length === 0) readings.push(reading(read.spans[0]?.key as ProfilePoint, NOT_IMPLEMENTED));
          pending.unshift(...instead);
          continue;
        }
        for (const [i, word] of words.entries()) registers[read.fn].set(read.address + i, word);
        for (const { key } of read.spans) decoded.add(key);
      }
      for (const point of decoded) {
        const words = registers[point.function ?? "holding"];
        readings.push(reading(point, decodeFromCycle(encodingOf(point, profile), words, profile.sentinels)));
      }
      this.deps.commit(this.changed(readings, started));
      this.state.cycles++;
      this.state.requestsPerCycle = requests;
      this.state.lastCycleMs = this.now() - started;
      const overran = this.state.lastCycleMs > this.device.pollIntervalMs;
      if (overran) this.state.overruns++;
      this.deps.onCycle?.(true, this.state.lastCycleMs, overran);
      this.backoff.succeeded();
      if (this.state.status !== "ok") {
        this.deps.log.info({ previous: this.state.status }, "device ok");
        this.setStatus("ok", null);
      }
      return true;
    } catch (err) {
      if (err instanceof EdgeError && err.code === "EDGE_ERR_BUFFER") throw err;
      this.state.cycles++;
      this.state.failedCycles++;
      this.deps.onCycle?.(false, this.now() - started, false);
      if (this.state.status !== "fault") {
        const code = err instanceof EdgeError ? err.code : "EDGE_ERR_MODBUS_CONNECT";
        this.deps.log.warn({ err }, "device fault");
        this.setStatus("fault", { code, message: (err as Error).message });
        this.deps.commit(profile.points.map((p) => reading(p, { value: null, quality: Quality.QUALITY_COMM_ERROR })));
      }
      return false;
    }
  }

  /**
   * A read answered exception 02 (illegal data address). Several points: they must not be read
   * together any more (cuts between them, remembered for this device), and are read again
   * separately now. A single point: the device does not have it; it is reported as not
   * implemented from now on. Returns the reads to do instead.
   */
  private learnIllegalAddress(read: PlannedRead<ProfilePoint>): PlannedRead<ProfilePoint>[] {
    if (read.spans.length === 1) {
      const point = read.spans[0]?.key as ProfilePoint;
      this.deps.log.warn(
        { point: point.id, address: read.address },
        "point answers exception 2; treated as not implemented",
      );
      this.unsupported.push(point);
      this.replan();
      return [];
    }
    for (const cut of cutsFromIllegalAddress(read)) this.cuts.add(cut);
    this.deps.log.info(
      { address: read.address, count: read.count },
      "read answered exception 2; splitting it from now on",
    );
    this.replan();
    return planReads(read.spans, this.limits, this.cuts);
  }

  /**
   * Discovers the SunSpec chain and reads every mapped point of the first logical device of the
   * profile's class that the nature knows (repeated groups as `<id>_<n>`).
   */
  private async discover(): Promise<void> {
    const { profile, nature } = this.deps.profile;
    const read = (address: number, count: number) =>
      this.deps.connection.readRegisters(this.unitId, "holding", address, count);
    const found = await discoverSunSpec(read, profile.sunspec?.bases);
    const device = found?.devices.find((d) => classOfChain(d.models) === profile.class);
    if (!found || !device) {
      throw new EdgeError(
        "EDGE_ERR_SUNSPEC_NOT_FOUND",
        found
          ? `no ${profile.class} in the SunSpec chain at ${found.base}`
          : `no SunSpec marker at unit ${this.unitId}, bases ${(profile.sunspec?.bases ?? SUNSPEC_BASES).join(", ")}: wrong unit id, or not a SunSpec device`,
      );
    }
    const known = (id: string) => id in nature.points || id.replace(/_\d+$/, "") in nature.points;
    const writes = profile.sunspec?.write ?? {};
    const discovered = pointsFromChain(device.models)
      .filter((p) => known(p.id))
      .map((p) => (writes[p.id] ? { ...p, write: writes[p.id] } : p));
    this.points = [...discovered, ...profile.points];
    this.unsupported.length = 0;
    this.cuts.clear();
    this.discovered = true;
    this.found = {
      manufacturer: device.manufacturer,
      model: device.model,
      serialNumber: device.serialNumber,
      firmware: device.version,
    };
    this.deps.log.info(
      { base: found.base, models: device.models.map((m) => m.id), points: this.points.length, ...this.found },
      "SunSpec device discovered",
    );
    this.replan();
    this.deps.onChange?.();
  }

  private replan(): void {
    const { nature } = this.deps.profile;
    const supported = this.points.filter((p) => !this.unsupported.includes(p));
    const slow = (p: ProfilePoint) =>
      (p.tier ?? nature.points[p.id]?.tier ?? nature.points[p.id.replace(/_\d+$/, "")]?.tier) === "slow";
    const plan = (points: ProfilePoint[]) =>
      planReads(
        points.flatMap((point) => spansOf(point, this.limits.maxRegisters)),
        this.limits,
        this.cuts,
      );
    this.plans = { full: plan(supported), fast: plan(supported.filter((p) => !slow(p))) };
    this.state.requestsPerCycle = this.plans.full.length;
  }

  /**
   * Report-on-change: keeps the readings whose quality changed or whose value moved beyond the
   * deadband since it was last committed, and everything once per snapshot interval.
   */
  private changed(readings: NewReading[], now: number): NewReading[] {
    const config = this.device.reportOnChange;
    if (!config) return readings;
    const snapshot = now - this.lastSnapshot >= config.snapshotEveryMs;
    if (snapshot) this.lastSnapshot = now;
    const kept = readings.filter((r) => {
      const last = this.lastReported.get(r.point);
      if (snapshot || !last || last.quality !== r.quality || (last.value === null) !== (r.value === null)) return true;
      if (r.value === null || last.value === null) return false;
      return Math.abs(r.value - last.value) > (Math.abs(last.value) * config.deadbandPct) / 100;
    });
    for (const r of kept) this.lastReported.set(r.point, { value: r.value, quality: r.quality });
    return kept;
  }

  private setStatus(status: DeviceState["status"], lastError: DeviceState["lastError"]): void {
    this.state.status = status;
    this.state.since = this.now();
    this.state.lastError = lastError;
    this.deps.onChange?.();
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const started = Date.now();
      this.running = this.cycle()
        .then((ok) => {
          const interval = this.device.pollIntervalMs;
          // Keep the cadence: the next cycle starts one interval after this one started.
          this.schedule(
            ok ? Math.max(0, interval - (Date.now() - started)) : Math.max(interval, this.backoff.failed()),
          );
        })
        .catch((err) => {
          this.deps.log.error({ err }, "poll cycle could not commit; retrying");
          this.schedule(this.backoff.failed());
        });
    }, delay);
  }
}
