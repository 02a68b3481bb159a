import { type ChannelCredentials, Metadata } from "@grpc/grpc-js";
import { EdgeSyncServiceClient, encodeReadingBatch, type HelloResponse, type UploadResponse } from "@steinmetz/proto";
import type { Logger } from "pino";
import { Backoff } from "../backoff.js";
import type { ReadingBuffer } from "../buffer/reading-buffer.js";
import { EdgeError } from "../errors.js";
import type { EdgeMetrics } from "../metrics.js";

/** Settings of the this. */
export interface ForwarderOptions {
  /** host:port of the hub's gRPC endpoint. */
  hubUrl: string;
  credentials: ChannelCredentials;
  buffer: ReadingBuffer;
  log: Logger;
  metrics: EdgeMetrics;
  agentVersion: string;
  clockSynced: () => boolean;
  /** Readings per batch (default 1000). */
  batchSize?: number;
  /** Batches in flight before waiting for acks (default 4). */
  window?: number;
  /** An unacknowledged batch older than this ends the session (default 30 s). */
  ackTimeoutMs?: number;
  /** Bounds of the reconnect backoff (defaults 500 ms .. 30 s). */
  backoff?: { initialDelayMs?: number; maxDelayMs?: number };
}

/** What the status page shows about the link to the hub. */
export interface SyncState {
  connected: boolean;
  hubUrl: string;
  /** Highest seq the hub reported committed (hello or ack). */
  hubCommittedSeq: number;
  lastAckAt: number | null;
  lastError: { code: string; message: string } | null;
  reconnects: number;
  inflightBatches: number;
}

interface InFlight {
  batchId: number;
  firstSeq: number;
  lastSeq: number;
  count: number;
  sentAt: number;
}

/**
 * Streams the buffer to the hub. Each session: Hello (learn the hub's committed seq, drop what
 * it already has), then an Upload stream with up to `window` batches in flight; a batch leaves
 * the buffer only when its ack arrives. Any failure ends the session; the next one starts after
 * a jittered exponential backoff and resumes from the hub's high-water mark, so nothing is
 * lost and duplicates on the wire are absorbed by the hub.
 */
export class Forwarder {
  readonly state: SyncState;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private endSession: (() => void) | undefined;
  private batchCounter = 0;
  private readonly backoff: Backoff;
  private readonly batchSize: number;
  private readonly window: number;
  private readonly ackTimeoutMs: number;

  constructor(private readonly options: ForwarderOptions) {
    this.batchSize = options.batchSize ?? 1000;
    this.window = options.window ?? 4;
    this.ackTimeoutMs = options.ackTimeoutMs ?? 30_000;
    this.backoff = new Backoff(options.backoff);
    this.state = {
      connected: false,
      hubUrl: options.hubUrl,
      hubCommittedSeq: 0,
      lastAckAt: null,
      lastError: null,
      reconnects: 0,
      inflightBatches: 0,
    };
  }

  /** Starts forwarding in the background. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Stops: lets in-flight batches be acknowledged for up to `graceMs`, then closes the stream. */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true;
    this.wake?.();
    const end = this.endSession;
    if (end) setTimeout(end, graceMs).unref();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { log } = this.options;
    while (!this.stopped) {
      const client = new EdgeSyncServiceClient(this.options.hubUrl, this.options.credentials, {
        "grpc.keepalive_time_ms": 10_000,
        "grpc.keepalive_timeout_ms": 5_000,
        "grpc.keepalive_permit_without_calls": 1,
      });
      try {
        await this.session(client);
      } catch (err) {
        const e =
          err instanceof EdgeError
            ? err
            : new EdgeError("EDGE_ERR_HUB_UNAVAILABLE", (err as Error).message ?? String(err), { cause: err });
        if (!this.stopped && this.state.lastError?.message !== e.message) {
          log.warn({ err: e, hubUrl: this.options.hubUrl }, "sync session failed; will reconnect");
        }
        this.state.lastError = { code: e.code, message: e.message };
      } finally {
        client.close();
        this.state.connected = false;
        this.state.inflightBatches = 0;
      }
      if (this.stopped) break;
      this.state.reconnects++;
      this.options.metrics.syncReconnects.inc();
      await this.sleep(this.backoff.failed());
    }
  }

  private async session(client: EdgeSyncServiceClient): Promise<void> {
    const { buffer, log } = this.options;
    const hello = await new Promise<HelloResponse>((resolve, reject) => {
      client.hello(
        {
          edgeId: buffer.edgeId,
          agentVersion: this.options.agentVersion,
          edgeTimeMs: Date.now(),
          clockSynced: this.options.clockSynced(),
          nextSeq: buffer.stats().nextSeq,
        },
        new Metadata(),
        { deadline: Date.now() + 5000 },
        (err, response) => (err ? reject(err) : resolve(response)),
      );
    });
    const dropped = buffer.deleteThrough(hello.committedSeq);
    this.state.connected = true;
    this.state.hubCommittedSeq = hello.committedSeq;
    if (this.state.lastError) log.info({ hubUrl: this.options.hubUrl }, "connected to hub");
    this.state.lastError = null;
    log.debug({ committedSeq: hello.committedSeq, dropped }, "hello");
    if (this.stopped) return;
    await this.upload(client, hello.committedSeq);
  }

  /** Runs one Upload stream until it fails or the forwarder stops. */
  private upload(client: EdgeSyncServiceClient, fromSeq: number): Promise<void> {
    const { buffer, metrics } = this.options;
    return new Promise<void>((resolve, reject) => {
      const metadata = new Metadata();
      metadata.set("edge-id", buffer.edgeId);
      const call = client.upload(metadata);
      const inflight: InFlight[] = [];
      let cursor = fromSeq;
      let done = false;

      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        buffer.off("appended", pump);
        clearInterval(watchdog);
        this.endSession = undefined;
        call.removeAllListeners("data");
        call.cancel();
        if (err) reject(err);
        else resolve();
      };

      const pump = (): void => {
        if (done) return;
        while (!this.stopped && inflight.length < this.window) {
          const readings = buffer.readAfter(cursor, this.batchSize);
          const first = readings[0];
          const last = readings[readings.length - 1];
          if (!first || !last) break;
          const batchId = ++this.batchCounter;
          call.write({ batch: encodeReadingBatch(batchId, readings) });
          inflight.push({
            batchId,
            firstSeq: first.seq,
            lastSeq: last.seq,
            count: readings.length,
            sentAt: Date.now(),
          });
          metrics.syncBatches.inc();
          cursor = last.seq;
        }
        this.state.inflightBatches = inflight.length;
        if (this.stopped && inflight.length === 0) finish();
      };

      call.on("data", (ack: UploadResponse) => {
        const head = inflight.shift();
        if (!head || ack.batchId !== head.batchId || ack.firstSeq !== head.firstSeq || ack.lastSeq !== head.lastSeq) {
          finish(new EdgeError("EDGE_ERR_HUB_PROTOCOL", `unexpected ack for batch ${ack.batchId}`));
          return;
        }
        buffer.delete(head.firstSeq, head.lastSeq);
        metrics.syncAcked.inc(head.count);
        metrics.syncAckLatency.observe((Date.now() - head.sentAt) / 1000);
        this.state.lastAckAt = Date.now();
        this.state.hubCommittedSeq = Math.max(this.state.hubCommittedSeq, head.lastSeq);
        this.backoff.succeeded();
        pump();
      });
      call.on("error", (err) => finish(new EdgeError("EDGE_ERR_HUB_UNAVAILABLE", err.message, { cause: err })));
      call.on("end", () => finish(new EdgeError("EDGE_ERR_HUB_UNAVAILABLE", "hub ended the upload stream")));
      const watchdog = setInterval(() => {
        const head = inflight[0];
        if (head && Date.now() - head.sentAt > this.ackTimeoutMs) {
          finish(
            new EdgeError("EDGE_ERR_HUB_UNAVAILABLE", `no ack for batch ${head.batchId} in ${this.ackTimeoutMs} ms`),
          );
        }
      }, 1000);
      this.endSession = () => finish();
      this.wake = pump;
      buffer.on("appended", pump);
      pump();
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
