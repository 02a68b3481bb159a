import {
  type handleBidiStreamingCall,
  type handleUnaryCall,
  Server,
  ServerCredentials,
  type ServerErrorResponse,
  status,
} from "@grpc/grpc-js";
import {
  decodeReadingBatch,
  EdgeSyncServiceService,
  type HelloRequest,
  type HelloResponse,
  InvalidBatchError,
  type Reading,
  type UploadRequest,
  type UploadResponse,
} from "@steinmetz/proto";
import type pg from "pg";
import type { Logger } from "pino";
import type { HubMetrics } from "../metrics.js";
import { recordHello, storeBatch } from "./repository.js";

const EDGE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** What the sync service needs. */
export interface SyncServiceDeps {
  pool: pg.Pool;
  log: Logger;
  metrics: HubMetrics;
}

/** A listening gRPC server. */
export interface SyncServer {
  port: number;
  /** Stops accepting, ends open streams, and waits for batches being stored to finish. */
  close(): Promise<void>;
}

function grpcError(code: status, details: string): ServerErrorResponse {
  return Object.assign(new Error(details), { code, details });
}

/**
 * The hub side of EdgeSyncService. Upload processes one batch at a time per stream (the stream
 * is read with backpressure, so a slow PostgreSQL slows the edge instead of filling memory) and
 * writes each ack only after the batch's transaction committed.
 */
export function createSyncHandlers(deps: SyncServiceDeps, inflight: Set<Promise<unknown>>) {
  const { pool, log, metrics } = deps;

  const hello: handleUnaryCall<HelloRequest, HelloResponse> = (call, callback) => {
    const req = call.request;
    if (!EDGE_ID.test(req.edgeId)) {
      callback(grpcError(status.INVALID_ARGUMENT, "HUB_ERR_EDGE_ID_INVALID: edge id missing or malformed"));
      return;
    }
    const now = Date.now();
    metrics.syncSessions.inc();
    recordHello(pool, req.edgeId, req.agentVersion, now - req.edgeTimeMs).then(
      (committedSeq) => {
        log.debug({ edgeId: req.edgeId, committedSeq, nextSeq: req.nextSeq }, "hello");
        callback(null, { committedSeq, hubTimeMs: Date.now() });
      },
      (err) => {
        log.error({ err, edgeId: req.edgeId }, "hello failed");
        callback(grpcError(status.UNAVAILABLE, "HUB_ERR_DB_UNAVAILABLE: cannot read the edge's sync state"));
      },
    );
  };

  const upload: handleBidiStreamingCall<UploadRequest, UploadResponse> = (call) => {
    const edgeId = String(call.metadata.get("edge-id")[0] ?? "");
    if (!EDGE_ID.test(edgeId)) {
      call.emit("error", grpcError(status.INVALID_ARGUMENT, "HUB_ERR_EDGE_ID_INVALID: edge-id metadata missing"));
      return;
    }
    const streamLog = log.child({ edgeId });
    // One batch at a time: the stream is paused while a batch is stored, so a slow PostgreSQL
    // pushes back on the edge (HTTP/2 flow control) instead of filling the hub's memory.
    let chain: Promise<void> = Promise.resolve();
    let failed = false;
    const fail = (err: ServerErrorResponse) => {
      failed = true;
      if (!call.destroyed) call.emit("error", err);
    };
    const store = async (request: UploadRequest) => {
      const batch = request.batch;
      let readings: ReturnType<typeof decodeReadingBatch>;
      try {
        if (!batch || batch.seqDelta.length === 0) throw new InvalidBatchError("empty batch");
        readings = decodeReadingBatch(batch);
      } catch (err) {
        metrics.ingestBatches.inc({ result: "rejected" });
        streamLog.warn({ err, batchId: batch?.batchId }, "rejected invalid batch");
        fail(grpcError(status.INVALID_ARGUMENT, `HUB_ERR_BATCH_INVALID: ${(err as Error).message}`));
        return;
      }
      const stopTimer = metrics.ingestCommitSeconds.startTimer();
      const stored = await storeBatch(pool, edgeId, readings);
      stopTimer();
      metrics.ingestBatches.inc({ result: "committed" });
      metrics.ingestReadings.inc({ result: "inserted" }, stored.inserted);
      if (stored.duplicates > 0) metrics.ingestReadings.inc({ result: "duplicate" }, stored.duplicates);
      if (call.cancelled || call.destroyed) return;
      call.write({
        batchId: batch.batchId,
        firstSeq: (readings[0] as Reading).seq,
        lastSeq: (readings[readings.length - 1] as Reading).seq,
        inserted: stored.inserted,
        duplicates: stored.duplicates,
      });
    };
    call.on("data", (request: UploadRequest) => {
      call.pause();
      const step = chain.then(async () => {
        if (failed) return;
        try {
          await store(request);
        } catch (err) {
          metrics.ingestBatches.inc({ result: "failed" });
          if (!call.cancelled) streamLog.error({ err }, "batch not stored");
          fail(grpcError(status.UNAVAILABLE, "HUB_ERR_DB_UNAVAILABLE: batch not stored"));
        }
        if (!failed) call.resume();
      });
      chain = step;
      inflight.add(step);
      void step.finally(() => inflight.delete(step));
    });
    call.on("end", () => {
      void chain.then(() => {
        if (!failed && !call.destroyed) call.end();
      });
    });
    call.on("error", (err) => {
      if (!call.cancelled) streamLog.debug({ err }, "upload stream error");
    });
  };

  return { hello, upload };
}

/**
 * Starts the gRPC server on `host:port` (0 = any free port). Plaintext only: mutual TLS comes
 * with edge certificates; the caller must have been told `--insecure-dev`.
 */
export async function startSyncServer(
  deps: SyncServiceDeps,
  address: { host: string; port: number },
): Promise<SyncServer> {
  const server = new Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024 });
  const inflight = new Set<Promise<unknown>>();
  server.addService(EdgeSyncServiceService, createSyncHandlers(deps, inflight));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${address.host}:${address.port}`, ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  return {
    port,
    async close() {
      // Give streams a moment to finish what they are storing, then cut them; unacked batches
      // are resent by the edges and absorbed as duplicates.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await Promise.allSettled([...inflight]);
    },
  };
}
