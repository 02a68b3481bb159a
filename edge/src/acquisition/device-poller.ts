import { Quality } from "@steinmetz/proto";
import type { Logger } from "pino";
import { Backoff } from "../backoff.js";
import type { NewReading } from "../buffer/reading-buffer.js";
import type { DeviceConfig } from "../config/site-schema.js";
import { EdgeError } from "../errors.js";
import type { LoadedProfile } from "../profile/load-profile.js";
import { decodePoint } from "./decode.js";
import type { ModbusTcpConnection } from "./modbus-tcp-connection.js";

/** A device's health as the UI and metrics see it: a state with the time it began. */
export interface DeviceState {
  status: "unknown" | "ok" | "fault";
  /** When the current status began (ms). */
  since: number;
  /** The error that put the device in fault, with its stable code. */
  lastError: { code: string; message: string } | null;
  /** Duration of the last successful cycle (ms) and the requests it took. */
  lastCycleMs: number | null;
  requestsPerCycle: number;
  cycles: number;
  failedCycles: number;
}

/** What a poller needs from the agent. */
export interface DevicePollerDeps {
  connection: ModbusTcpConnection;
  profile: LoadedProfile;
  /** Commits one cycle's readings (the buffer's append). */
  commit: (readings: NewReading[]) => void;
  log: Logger;
  /** Called after every cycle with its result and duration (for metrics). */
  onCycle?: (ok: boolean, durationMs: number) => void;
  now?: () => number;
  clockSynced?: () => boolean;
}

/**
 * Polls one device at its interval: reads the profile's blocks through the shared connection,
 * decodes every point and commits the cycle's readings in one transaction. A failing device
 * goes to `fault` (logged once per transition, with one COMM_ERROR reading per point so the hub
 * sees why data stops) and is retried with its own backoff, never holding up other devices.
 */
export class DevicePoller {
  readonly state: DeviceState;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly backoff = new Backoff({ initialDelayMs: 1000, maxDelayMs: 60_000 });
  private readonly now: () => number;
  private readonly clockSynced: () => boolean;

  constructor(
    readonly device: DeviceConfig,
    private readonly deps: DevicePollerDeps,
  ) {
    this.now = deps.now ?? Date.now;
    this.clockSynced = deps.clockSynced ?? (() => false);
    this.state = {
      status: "unknown",
      since: this.now(),
      lastError: null,
      lastCycleMs: null,
      requestsPerCycle: deps.profile.profile.blocks.length,
      cycles: 0,
      failedCycles: 0,
    };
  }

  /** Starts polling; the first cycle runs at once. */
  start(): void {
    this.schedule(0);
  }

  /** Stops polling and waits for a running cycle to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Runs one poll cycle; resolves true when it succeeded. */
  async cycle(): Promise<boolean> {
    const { profile } = this.deps.profile;
    const unitId = this.device.unitId ?? profile.defaults.unitId;
    const started = this.now();
    const clockSynced = this.clockSynced();
    try {
      const readings: NewReading[] = [];
      for (const block of profile.blocks) {
        const words = await this.deps.connection.readHoldingRegisters(unitId, block.address, block.count);
        for (const point of profile.points) {
          if (point.address < block.address || point.address >= block.address + block.count) continue;
          const { value, quality } = decodePoint(point, words, block.address);
          readings.push({ deviceId: this.device.id, point: point.id, ts: started, value, quality, clockSynced });
        }
      }
      this.deps.commit(readings);
      this.state.cycles++;
      this.state.lastCycleMs = this.now() - started;
      this.deps.onCycle?.(true, this.state.lastCycleMs);
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
      this.deps.onCycle?.(false, this.now() - started);
      if (this.state.status !== "fault") {
        const code = err instanceof EdgeError ? err.code : "EDGE_ERR_MODBUS_CONNECT";
        this.deps.log.warn({ err }, "device fault");
        this.setStatus("fault", { code, message: (err as Error).message });
        this.deps.commit(
          profile.points.map((p) => ({
            deviceId: this.device.id,
            point: p.id,
            ts: started,
            value: null,
            quality: Quality.QUALITY_COMM_ERROR,
            clockSynced,
          })),
        );
      }
      return false;
    }
  }

  private setStatus(status: DeviceState["status"], lastError: DeviceState["lastError"]): void {
    this.state.status = status;
    this.state.since = this.now();
    this.state.lastError = lastError;
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
