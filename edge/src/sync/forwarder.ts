import { type ChannelCredentials, status as grpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  EdgeSyncServiceClient,
  encodeBatchColumns,
  type HelloResponse,
  type ReportDevicesResponse,
  type ReportGapsResponse,
  type UploadResponse,
} from "@steinmetz/proto";
import type { Logger } from "pino";
import { Backoff } from "../backoff.js";
import type { ReadingBuffer } from "../buffer/reading-buffer.js";
import { EdgeError } from "../errors.js";
import type { EdgeMetrics } from "../metrics.js";
import type { CommandChannel } from "./command-channel.js";
import type { DeviceInventory } from "./inventory.js";

/** The two upload streams of a session. */
export type Lane = "live" | "backfill";

/** Settings of the forwarder. */
export interface ForwarderOptions {
  /** host:port of the hub's gRPC endpoint. */
  hubUrl: string;
  credentials: ChannelCredentials;
  buffer: ReadingBuffer;
  log: Logger;
  metrics: EdgeMetrics;
  agentVersion: string;
  clockSynced: () => boolean;
  /**
   * Readings per batch: the live lane sends what is there up to `max`; the backfill lane starts
   * at `initial` and adapts between `min` and `max` to keep ack latency near `targetAckMs`
   * (defaults 1000, 200, 20,000, 2 s).
   */
  batch?: { initial?: number; min?: number; max?: number; targetAckMs?: number };
  /** Batches in flight per lane before waiting for acks (default 4). */
  window?: number;
  /** An unacknowledged batch older than this ends the session (default 30 s). */
  ackTimeoutMs?: number;
  /** Bounds of the reconnect backoff (defaults 500 ms .. 30 s, decorrelated jitter). */
  backoff?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Message compression on the link (default gzip). */
  compression?: "gzip" | "none";
  /** Called for every acknowledged batch (benchmarks and status pages). */
  onAck?: (lane: Lane, latencyMs: number, readings: number) => void;
  /**
   * The device inventory, reported after Hello in every session and again whenever it changes
   * (at most once per `inventoryDebounceMs`, default 1 s). Unset: no inventory is reported.
   */
  inventory?: DeviceInventory;
  inventoryDebounceMs?: number;
  /** The version of the site configuration in force, told to the hub in every hello. */
  configVersion?: () => number;
  /** The hub's command channel, opened in every session beside the lanes. Unset: none. */
  commands?: CommandChannel;
}

/** What the status page shows about the link to the hub. */
export interface SyncState {
  connected: boolean;
  hubUrl: string;
  /** Highest S with every seq 1..S stored at the hub or reported as a gap (hello or ack). */
  hubCommittedSeq: number;
  lastAckAt: number | null;
  lastError: { code: string; message: string } | null;
  reconnects: number;
  inflightBatches: number;
  /** Seq below which readings travel on the backfill lane in this session; null when caught up. */
  backfillBelow: number | null;
  /** Current adaptive batch size of the backfill lane. */
  backfillBatchSize: number;
}

/** The link's state before its first session. */
export function initialSyncState(hubUrl: string, backfillBatchSize: number): SyncState {
  return {
    connected: false,
    hubUrl,
    hubCommittedSeq: 0,
    lastAckAt: null,
    lastError: null,
    reconnects: 0,
    inflightBatches: 0,
    backfillBelow: null,
    backfillBatchSize,
  };
}

interface InFlight {
  batchId: number;
  firstSeq: number;
  lastSeq: number;
  count: number;
  sentAt: number;
}

/** A session ending: the first lane or step that fails ends all of them. */
class Session {
  ended = false;
  private readonly enders = new Set<(err?: Error) => void>();
  constructor(private readonly onEnd: (err?: Error) => void) {}
  onEnded(fn: (err?: Error) => void): void {
    this.enders.add(fn);
  }
  end(err?: Error): void {
    if (this.ended) return;
    this.ended = true;
    for (const fn of this.enders) fn(err);
    this.onEnd(err);
  }
}

const asEdgeError = (err: unknown): EdgeError => {
  if (err instanceof EdgeError) return err;
  const e = err as ServiceError;
  if (e?.code === grpcStatus.INVALID_ARGUMENT || e?.code === grpcStatus.RESOURCE_EXHAUSTED) {
    return new EdgeError("EDGE_ERR_HUB_REJECTED", e.details || e.message, { cause: err });
  }
  if (e?.code === grpcStatus.UNAUTHENTICATED || e?.code === grpcStatus.PERMISSION_DENIED) {
    return new EdgeError("EDGE_ERR_HUB_REFUSED", e.details || e.message, { cause: err });
  }
  return new EdgeError("EDGE_ERR_HUB_UNAVAILABLE", e?.details || e?.message || String(err), { cause: err });
};

/**
 * Streams the buffer to the hub. Each session: Hello (learn every seq range the hub covers and
 * drop those readings), report pending gap records, then two Upload streams: the *live* lane
 * carries readings taken from now on, the *backfill* lane the older backlog (oldest first, with
 * an adaptive batch size), so a long outage never delays fresh values by more than a batch. Each
 * lane keeps up to `window` batches in flight; a batch leaves the buffer only when its ack
 * arrives. Any failure ends the session; the next one starts after a jittered exponential
 * backoff (a fleet reconnecting after a hub outage spreads out) and resumes from what the hub
 * reports, so nothing is lost and duplicates on the wire are absorbed by the hub.
 */
export class Forwarder {
  readonly state: SyncState;
  private stopped = false;
  private loop: Promise<void> | undefined;
  /** Wakes the backoff sleep and the lanes' pumps (on stop). */
  private readonly wakers = new Set<() => void>();
  private session: Session | undefined;
  private batchCounter = 0;
  private readonly backoff: Backoff;
  private readonly window: number;
  private readonly ackTimeoutMs: number;
  private readonly batch: Required<NonNullable<ForwarderOptions["batch"]>>;
  /** A device inventory report failed and nothing was reported since (it is logged once). */
  private inventoryFailing = false;

  constructor(private readonly options: ForwarderOptions) {
    this.window = options.window ?? 4;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.backoff = new Backoff(options.backoff);
    this.batch = { initial: 1000, min: 200, max: 20_000, targetAckMs: 2000, ...options.batch };
    this.state = initialSyncState(options.hubUrl, this.batch.initial);
  }

  /** Starts forwarding in the background. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops: lets in-flight batches be acknowledged for up to `graceMs`, then ends the session. */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true;
    for (const wake of this.wakers) wake();
    const session = this.session;
    if (session) setTimeout(() => session.end(), graceMs).unref();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { log } = this.options;
    while (!this.stopped) {
      const client = new EdgeSyncServiceClient(this.options.hubUrl, this.options.credentials, {
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_timeout_ms": 5_000,
        "grpc.keepalive_permit_without_calls": 1,
        "grpc.default_compression_algorithm": this.options.compression === "none" ? 0 : 2,
      });
      try {
        await this.runSession(client);
      } catch (err) {
        const e = asEdgeError(err);
        if (e.code === "EDGE_ERR_HUB_REJECTED") this.options.metrics.syncRejected.inc();
        if (!this.stopped && this.state.lastError?.message !== e.message) {
          log.warn({ err: e, hubUrl: this.options.hubUrl }, "sync session failed; will reconnect");
        }
        this.state.lastError = { code: e.code, message: e.message };
      } finally {
        client.close();
        this.session = undefined;
        this.state.connected = false;
        this.state.inflightBatches = 0;
      }
      if (this.stopped) break;
      this.state.reconnects++;
      this.options.metrics.syncReconnects.inc();
      await this.sleep(this.backoff.failed());
    }
  }

  private async runSession(client: EdgeSyncServiceClient): Promise<void> {
    const { buffer, log } = this.options;
    const hello = await new Promise<HelloResponse>((resolve, reject) => {
      client.hello(
        {
          edgeId: buffer.edgeId,
          agentVersion: this.options.agentVersion,
          edgeTimeMs: Date.now(),
          clockSynced: this.options.clockSynced(),
          nextSeq: buffer.stats().nextSeq,
          configVersion: this.options.configVersion?.() ?? 0,
        },
        new Metadata(),
        { deadline: Date.now() + 5000 },
        (err, response) => (err ? reject(err) : resolve(response)),
      );
    });
    const dropped = buffer.deleteCovered(hello.covered);
    this.state.connected = true;
    this.state.hubCommittedSeq = hello.committedSeq;
    if (this.state.lastError) log.info({ hubUrl: this.options.hubUrl }, "connected to hub");
    this.state.lastError = null;
    log.debug({ committedSeq: hello.committedSeq, covered: hello.covered.length, dropped }, "hello");
    if (this.stopped) return;

    const liveFrom = buffer.stats().nextSeq;
    const backlog = buffer.readAfter(0, 1, liveFrom).length > 0;
    this.state.backfillBelow = backlog ? liveFrom : null;
    await new Promise<void>((resolve, reject) => {
      const session = new Session((err) => (err ? reject(err) : resolve()));
      this.session = session;
      this.reportGaps(client, session);
      this.reportDevices(client, session);
      this.options.commands?.attach(client, session);
      const lanes = [this.lane(client, session, "live", liveFrom - 1, Number.POSITIVE_INFINITY)];
      if (backlog) {
        lanes.push(
          this.lane(client, session, "backfill", 0, liveFrom).then(() => {
            this.state.backfillBelow = null;
          }),
        );
      }
      Promise.all(lanes).then(
        () => session.end(),
        (err: Error) => session.end(err),
      );
    });
  }

  /** Sends pending gap records now and whenever the buffer records a new one. */
  private reportGaps(client: EdgeSyncServiceClient, session: Session): void {
    const { buffer, log } = this.options;
    let sending = false;
    let again = false;
    const send = (): void => {
      if (session.ended) return;
      if (sending) {
        again = true;
        return;
      }
      const gaps = buffer.pendingGaps();
      if (gaps.length === 0) return;
      sending = true;
      client.reportGaps(
        {
          edgeId: buffer.edgeId,
          gaps: gaps.map((g) => ({
            gapId: g.id,
            firstSeq: g.firstSeq,
            lastSeq: g.lastSeq,
            count: g.count,
            reason: g.reason,
            fromTsMs: g.fromTs ?? 0,
            toTsMs: g.toTs ?? 0,
          })),
        },
        new Metadata(),
        { deadline: Date.now() + 10_000 },
        (err, response: ReportGapsResponse) => {
          sending = false;
          if (err) {
            session.end(err);
            return;
          }
          buffer.gapsReported(response.gapIds);
          log.info({ gaps: response.gapIds.length }, "gaps reported to the hub");
          if (again) {
            again = false;
            send();
          }
        },
      );
    };
    buffer.on("gap", send);
    session.onEnded(() => buffer.off("gap", send));
    send();
  }

  /**
   * Sends the device inventory (with the configuration version) now and again whenever it
   * changes: the first change starts a
   * timer of `inventoryDebounceMs` and every change until it fires is sent with it, a change
   * during a report is sent when it returns, an unchanged inventory is not sent twice. Runs beside
   * the lanes and never ends the session: a failed report is logged once (until one succeeds) and
   * sent again at the next change or session.
   */
  private reportDevices(client: EdgeSyncServiceClient, session: Session): void {
    const { buffer, inventory, log } = this.options;
    if (!inventory) return;
    const debounceMs = this.options.inventoryDebounceMs ?? 1000;
    let sending = false;
    let again = false;
    /** The inventory as last acknowledged in this session (JSON). */
    let reported: string | null = null;
    let timer: NodeJS.Timeout | undefined;
    const send = (): void => {
      clearTimeout(timer);
      timer = undefined;
      if (session.ended) return;
      if (sending) {
        again = true;
        return;
      }
      const devices = inventory.snapshot();
      const configVersion = this.options.configVersion?.() ?? 0;
      const json = JSON.stringify({ devices, configVersion });
      if (json === reported) return;
      sending = true;
      client.reportDevices(
        { edgeId: buffer.edgeId, devices, configVersion },
        new Metadata(),
        { deadline: Date.now() + 10_000 },
        (err, response: ReportDevicesResponse) => {
          sending = false;
          // A report cut off by the end of its session is not a failure of its own.
          if (session.ended) return;
          if (err) {
            if (!this.inventoryFailing) {
              log.warn(
                { err: asEdgeError(err), devices: devices.length },
                "device inventory not reported; sent again at the next change or session",
              );
            }
            this.inventoryFailing = true;
          } else {
            reported = json;
            if (this.inventoryFailing) log.info({ devices: devices.length }, "device inventory reported again");
            this.inventoryFailing = false;
            log.debug(
              { devices: response.stored, removed: response.removed, linked: response.linked },
              "device inventory reported",
            );
          }
          if (again) {
            again = false;
            send();
          }
        },
      );
    };
    const changed = (): void => {
      timer ??= setTimeout(send, debounceMs);
    };
    inventory.on("changed", changed);
    session.onEnded(() => {
      inventory.off("changed", changed);
      clearTimeout(timer);
    });
    send();
  }

  /**
   * One Upload stream carrying seqs in (`after`, `before`). The live lane runs until the session
   * ends; the backfill lane resolves once everything below `before` is acknowledged.
   */
  private lane(client: EdgeSyncServiceClient, session: Session, lane: Lane, after: number, before: number) {
    const { buffer, metrics } = this.options;
    return new Promise<void>((resolve, reject) => {
      const metadata = new Metadata();
      metadata.set("edge-id", buffer.edgeId);
      metadata.set("lane", lane);
      const call = client.upload(metadata);
      const inflight: InFlight[] = [];
      let cursor = after;
      let size = lane === "live" ? this.batch.max : this.state.backfillBatchSize;
      let done = false;

      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        buffer.off("appended", pump);
        this.wakers.delete(pump);
        clearInterval(watchdog);
        call.removeAllListeners("data");
        call.cancel();
        this.state.inflightBatches = 0;
        if (err) reject(err);
        else resolve();
      };
      session.onEnded(() => finish());

      const pump = (): void => {
        if (done) return;
        while (!this.stopped && inflight.length < this.window) {
          const cols = buffer.readColumnsAfter(cursor, size, before);
          if (!cols) break;
          const count = cols.seq.length;
          const firstSeq = cols.seq[0] as number;
          const lastSeq = cols.seq[count - 1] as number;
          const batchId = ++this.batchCounter;
          call.write({ batch: encodeBatchColumns(batchId, cols) });
          inflight.push({ batchId, firstSeq, lastSeq, count, sentAt: Date.now() });
          metrics.syncBatches.inc({ lane });
          metrics.syncSent.inc({ lane }, count);
          cursor = lastSeq;
        }
        this.state.inflightBatches = inflight.length;
        if (inflight.length > 0) return;
        if (this.stopped) finish();
        else if (lane === "backfill" && buffer.readAfter(cursor, 1, before).length === 0) {
          call.end();
          finish();
        }
      };

      call.on("data", (ack: UploadResponse) => {
        const head = inflight.shift();
        if (!head || ack.batchId !== head.batchId || ack.firstSeq !== head.firstSeq || ack.lastSeq !== head.lastSeq) {
          finish(new EdgeError("EDGE_ERR_HUB_PROTOCOL", `unexpected ack for batch ${ack.batchId}`));
          return;
        }
        const latencyMs = Date.now() - head.sentAt;
        buffer.delete(head.firstSeq, head.lastSeq);
        metrics.syncAcked.inc(head.count);
        metrics.syncAckLatency.observe({ lane }, latencyMs / 1000);
        this.options.onAck?.(lane, latencyMs, head.count);
        this.state.lastAckAt = Date.now();
        this.state.hubCommittedSeq = Math.max(this.state.hubCommittedSeq, ack.committedSeq);
        if (lane === "backfill") {
          size = this.adapt(size, head.count, latencyMs);
          this.state.backfillBatchSize = size;
        }
        this.backoff.succeeded();
        pump();
      });
      call.on("error", (err) => finish(asEdgeError(err)));
      call.on("end", () => finish(new EdgeError("EDGE_ERR_HUB_UNAVAILABLE", "hub ended the upload stream")));
      const watchdog = setInterval(() => {
        const head = inflight[0];
        if (head && Date.now() - head.sentAt > this.ackTimeoutMs) {
          finish(
            new EdgeError("EDGE_ERR_HUB_UNAVAILABLE", `no ack for batch ${head.batchId} in ${this.ackTimeoutMs} ms`),
          );
        }
      }, 1000);
      this.wakers.add(pump);
      buffer.on("appended", pump);
      pump();
    });
  }

  /**
   * Backfill batch size, additive-increase/multiplicative-decrease on ack latency: halve when
   * acks take longer than the target, grow by half when a full batch came back well within it.
   */
  private adapt(size: number, sent: number, latencyMs: number): number {
    const { min, max, targetAckMs } = this.batch;
    if (latencyMs > targetAckMs) return Math.max(min, Math.floor(size / 2));
    if (sent >= size && latencyMs < targetAckMs / 2) return Math.min(max, Math.ceil(size * 1.5));
    return size;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.wakers.add(wake);
    });
  }
}
