import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type handleBidiStreamingCall,
  type handleUnaryCall,
  Server,
  type ServerCredentials,
  type ServerErrorResponse,
  status,
} from "@grpc/grpc-js";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  type BatchColumns,
  type CommandsRequest,
  type CommandsResponse,
  decodeBatchColumns,
  EdgeSyncServiceService,
  type HelloRequest,
  type HelloResponse,
  InvalidBatchError,
  type ReportDevicesRequest,
  type ReportDevicesResponse,
  type ReportGapsRequest,
  type ReportGapsResponse,
  UploadRequest,
  type UploadResponse,
} from "@steinmetz/proto";
import type pg from "pg";
import type { Logger } from "pino";
import type { CommandDispatcher, CommandStream } from "../commands/dispatcher.js";
import type { DeadLetterQueue, DeadLetterSink } from "../dead-letters/index.js";
import { hubError } from "../errors.js";
import type { HubMetrics } from "../metrics.js";
import { checkClaimedEdgeId, type EdgeAuthorizer, edgeAuthGrpcError } from "../pki/edge-authorizer.js";
import { fingerprintOf, runIdempotent } from "../platform/idempotency-store.js";
import { inSpan, tracer } from "../platform/tracing.js";
import { checkInventory, type DeviceInventoryStore, type DeviceStateChange } from "./device-inventory.js";
import { gapReasonName, type ReadingStore } from "./repository.js";

const EDGE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Readings one batch may carry; larger batches are refused (the edge sends at most 20,000). */
export const MAX_BATCH_READINGS = 50_000;
/** Largest gRPC message the hub accepts; a larger one fails with RESOURCE_EXHAUSTED. */
export const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

/** What the sync service needs. */
export interface SyncServiceDeps {
  store: ReadingStore;
  log: Logger;
  metrics: HubMetrics;
  /**
   * Mutual TLS: proves the edge id of a call from its client certificate. Every call must then
   * claim exactly that id. Unset only with `--insecure-dev` (plaintext, ids taken on trust).
   */
  authorize?: EdgeAuthorizer;
  /** Where refused batches and gap reports are kept (source `sync.upload`, `sync.gaps`). */
  deadLetters?: DeadLetterSink;
  /** For ReportGaps calls carrying `idempotency-key` metadata (stored results, replayed). */
  pool?: pg.Pool;
  /** Where ReportDevices snapshots go (and ERP devices are linked); without it the call is UNIMPLEMENTED. */
  inventory?: DeviceInventoryStore;
  /**
   * Called after a ReportDevices snapshot committed, with every reported device whose state
   * differs from the one stored before (a device new to the hub included, `from` null); not
   * called when none changed. The edge's answer does not wait for it; a rejection is logged.
   */
  onDeviceStates?: (changes: DeviceStateChange[]) => Promise<void>;
  /** Sends commands to connected edges and records their reports; without it Commands is UNIMPLEMENTED. */
  commands?: CommandDispatcher;
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
/** What the server tracks of its calls for shutting down: stores in progress, open upload streams. */
interface InFlight {
  stores: Set<Promise<unknown>>;
  /** Ends an open upload stream with a status (it then closes like any finished call). */
  streams: Set<(error: ServerErrorResponse) => void>;
}

export function createSyncHandlers(deps: SyncServiceDeps, inflight: InFlight) {
  const { store, log, metrics } = deps;
  /** Edges whose clock the last hello found skewed (for the gauge and to log transitions once). */
  const skewed = new Set<string>();
  /**
   * Checks the edge id a call claims: well-formed and, with mutual TLS, the one its certificate
   * names. Returns the gRPC error to answer with, or null. Refusals are counted and logged.
   */
  const refuse = (call: Parameters<EdgeAuthorizer>[0], claimed: string): ServerErrorResponse | null => {
    if (!EDGE_ID.test(claimed)) {
      return grpcError(status.INVALID_ARGUMENT, "HUB_ERR_EDGE_ID_INVALID: edge id missing or malformed");
    }
    if (!deps.authorize) return null;
    try {
      checkClaimedEdgeId(deps.authorize(call), claimed);
      return null;
    } catch (err) {
      const e = err as { code?: string };
      metrics.syncRefused.inc({ code: e.code ?? "unknown" });
      log.warn({ err, claimedEdgeId: claimed }, "edge call refused");
      return edgeAuthGrpcError(err);
    }
  };
  /** Counts, times and traces a unary call (span `grpc <Method>` with the call's request id). */
  const observed =
    <Req, Res>(method: string, handler: handleUnaryCall<Req, Res>): handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const stop = metrics.grpcDuration.startTimer({ method });
      const requestId = String(call.metadata.get("request-id")[0] ?? randomUUID());
      const span = tracer().startSpan(`grpc ${method}`, {
        kind: SpanKind.SERVER,
        attributes: { "rpc.system": "grpc", "rpc.method": method, "request.id": requestId },
      });
      const done = ((err: ServerErrorResponse | null, value?: Res) => {
        metrics.grpcCalls.inc({ method, code: err ? (status[err.code ?? status.UNKNOWN] ?? "UNKNOWN") : "OK" });
        stop();
        if (err) span.setStatus({ code: SpanStatusCode.ERROR, message: err.details ?? err.message });
        span.end();
        callback(err, value);
      }) as Parameters<handleUnaryCall<Req, Res>>[1];
      context.with(trace.setSpan(context.active(), span), () => handler(call, done));
    };
  metrics.gauge(
    "hub_edges_clock_skewed",
    "Edges whose clock was skewed beyond the threshold at their last hello",
    (g) => g.set(skewed.size),
  );

  const hello: handleUnaryCall<HelloRequest, HelloResponse> = (call, callback) => {
    const req = call.request;
    const refused = refuse(call, req.edgeId);
    if (refused) {
      callback(refused);
      return;
    }
    const offsetMs = Date.now() - req.edgeTimeMs;
    metrics.syncSessions.inc();
    store.hello(req.edgeId, req.agentVersion, offsetMs, req.clockSynced).then(
      (state) => {
        deps.commands?.noteConfigVersion(req.edgeId, req.configVersion);
        const wasSkewed = skewed.has(req.edgeId);
        if (state.clockSkewed && !wasSkewed) {
          log.warn({ edgeId: req.edgeId, clockOffsetMs: offsetMs, clockSynced: req.clockSynced }, "edge clock skewed");
          skewed.add(req.edgeId);
        } else if (!state.clockSkewed && wasSkewed) skewed.delete(req.edgeId);
        log.debug({ edgeId: req.edgeId, committedSeq: state.committedSeq, nextSeq: req.nextSeq }, "hello");
        callback(null, { committedSeq: state.committedSeq, hubTimeMs: Date.now(), covered: state.covered });
      },
      (err) => {
        log.error({ err, edgeId: req.edgeId }, "hello failed");
        callback(grpcError(status.UNAVAILABLE, "HUB_ERR_DB_UNAVAILABLE: cannot read the edge's sync state"));
      },
    );
  };

  const upload: handleBidiStreamingCall<UploadRequest, UploadResponse> = (call) => {
    const edgeId = String(call.metadata.get("edge-id")[0] ?? "");
    const refused = refuse(call, edgeId);
    if (refused) {
      call.emit("error", refused);
      return;
    }
    const lane = String(call.metadata.get("lane")[0] ?? "live") === "backfill" ? "backfill" : "live";
    const streamLog = log.child({ edgeId, lane });
    // Batches are decoded as they arrive and stored one after the other; while one is being
    // stored the next is decoded (PostgreSQL and this process work in parallel). With two batches
    // waiting the stream is paused, so a slow PostgreSQL pushes back on the edge (HTTP/2 flow
    // control) instead of filling the hub's memory.
    const MAX_QUEUED = 2;
    let queued = 0;
    let chain: Promise<void> = Promise.resolve();
    let failed = false;
    const fail = (err: ServerErrorResponse) => {
      failed = true;
      if (!call.destroyed) call.emit("error", err);
    };
    const endAtShutdown = (err: ServerErrorResponse) => {
      if (!failed) fail(err);
    };
    inflight.streams.add(endAtShutdown);
    const forget = () => inflight.streams.delete(endAtShutdown);
    for (const event of ["close", "finish", "cancelled"]) call.once(event, forget);
    const decode = (request: UploadRequest): { batchId: number; cols: BatchColumns } | null => {
      const batch = request.batch;
      try {
        if (!batch || batch.seqDelta.length === 0) throw new InvalidBatchError("empty batch");
        if (batch.seqDelta.length > MAX_BATCH_READINGS) {
          throw new InvalidBatchError(`${batch.seqDelta.length} readings in one batch, at most ${MAX_BATCH_READINGS}`);
        }
        return { batchId: batch.batchId, cols: decodeBatchColumns(batch) };
      } catch (err) {
        metrics.ingestBatches.inc({ result: "rejected", lane });
        streamLog.warn({ err, batchId: batch?.batchId }, "rejected invalid batch");
        void deps.deadLetters?.deadLetter(
          "sync.upload",
          { edgeId, lane, batchId: batch?.batchId ?? null },
          hubError("HUB_ERR_BATCH_INVALID", (err as Error).message),
          UploadRequest.encode(request).finish(),
        );
        fail(grpcError(status.INVALID_ARGUMENT, `HUB_ERR_BATCH_INVALID: ${(err as Error).message}`));
        return null;
      }
    };
    const storeDecoded = async ({ batchId, cols }: { batchId: number; cols: BatchColumns }) => {
      const stopTimer = metrics.ingestCommitSeconds.startTimer();
      const stored = await inSpan(
        "sync.storeBatch",
        { "edge.id": edgeId, lane, batchId, readings: cols.seq.length },
        () => store.storeBatch(edgeId, cols),
      );
      stopTimer({ lane });
      metrics.ingestBatches.inc({ result: "committed", lane });
      metrics.ingestReadings.inc({ result: "inserted" }, stored.inserted);
      if (stored.duplicates > 0) metrics.ingestReadings.inc({ result: "duplicate" }, stored.duplicates);
      if (call.cancelled || call.destroyed) return;
      call.write({
        batchId,
        firstSeq: cols.seq[0] as number,
        lastSeq: cols.seq[cols.seq.length - 1] as number,
        inserted: stored.inserted,
        duplicates: stored.duplicates,
        committedSeq: stored.committedSeq,
      });
    };
    call.on("data", (request: UploadRequest) => {
      if (failed) return;
      const decoded = decode(request);
      if (!decoded) return;
      if (++queued >= MAX_QUEUED) call.pause();
      const step = chain.then(async () => {
        if (failed) return;
        try {
          await storeDecoded(decoded);
        } catch (err) {
          metrics.ingestBatches.inc({ result: "failed", lane });
          if (!call.cancelled) streamLog.error({ err }, "batch not stored");
          fail(grpcError(status.UNAVAILABLE, "HUB_ERR_DB_UNAVAILABLE: batch not stored"));
        } finally {
          if (--queued < MAX_QUEUED && !failed) call.resume();
        }
      });
      chain = step;
      inflight.stores.add(step);
      void step.finally(() => inflight.stores.delete(step));
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

  const reportGaps: handleUnaryCall<ReportGapsRequest, ReportGapsResponse> = (call, callback) => {
    const req = call.request;
    const refused = refuse(call, req.edgeId);
    if (refused) {
      callback(refused);
      return;
    }
    const bad = req.gaps.find((g) => g.firstSeq < 1 || g.lastSeq < g.firstSeq);
    if (bad || req.gaps.length > 10_000) {
      const message = "HUB_ERR_GAP_INVALID: a gap needs 1 <= first_seq <= last_seq";
      void deps.deadLetters?.deadLetter("sync.gaps", req, hubError("HUB_ERR_GAP_INVALID", message));
      callback(grpcError(status.INVALID_ARGUMENT, message));
      return;
    }
    // With `idempotency-key` metadata the result is stored and replayed to duplicates. Storing
    // gaps is idempotent itself, so the effect and the stored result may commit separately.
    const key = call.metadata.get("idempotency-key")[0];
    const storing =
      key !== undefined && deps.pool
        ? runIdempotent(
            deps.pool,
            {
              principalId: `edge:${req.edgeId}`,
              key: String(key).slice(0, 255),
              fingerprint: fingerprintOf("GRPC", "ReportGaps", req),
              method: "GRPC",
              path: "steinmetz.sync.v1.EdgeSyncService/ReportGaps",
            },
            () => store.storeGaps(req.edgeId, req.gaps).then(() => true),
          )
        : store.storeGaps(req.edgeId, req.gaps);
    storing.then(
      () => {
        for (const g of req.gaps) {
          metrics.gapReadings.inc({ reason: gapReasonName(g.reason) }, g.count);
          log.warn(
            {
              edgeId: req.edgeId,
              firstSeq: g.firstSeq,
              lastSeq: g.lastSeq,
              count: g.count,
              reason: gapReasonName(g.reason),
            },
            "edge reported a gap",
          );
        }
        callback(null, { gapIds: req.gaps.map((g) => g.gapId) });
      },
      (err) => {
        const code = (err as { code?: string }).code;
        if (code === "HUB_ERR_IDEMPOTENCY_MISMATCH" || code === "HUB_ERR_IDEMPOTENCY_IN_FLIGHT") {
          const grpcCode = code === "HUB_ERR_IDEMPOTENCY_MISMATCH" ? status.INVALID_ARGUMENT : status.ABORTED;
          callback(grpcError(grpcCode, `${code}: ${(err as Error).message}`));
          return;
        }
        log.error({ err, edgeId: req.edgeId }, "gap report not stored");
        callback(grpcError(status.UNAVAILABLE, "HUB_ERR_DB_UNAVAILABLE: gap report not stored"));
      },
    );
  };

  const reportDevices: handleUnaryCall<ReportDevicesRequest, ReportDevicesResponse> = (call, callback) => {
    const req = call.request;
    const refused = refuse(call, req.edgeId);
    if (refused) {
      callback(refused);
      return;
    }
    const inventory = deps.inventory;
    if (!inventory) {
      callback(grpcError(status.UNIMPLEMENTED, "this hub does not store device inventories"));
      return;
    }
    let devices: ReturnType<typeof checkInventory>;
    try {
      devices = checkInventory(req.devices);
    } catch (err) {
      log.warn({ err, edgeId: req.edgeId }, "refused device inventory");
      callback(grpcError(status.INVALID_ARGUMENT, `HUB_ERR_INVENTORY_INVALID: ${(err as Error).message}`));
      return;
    }
    if (req.configVersion > 0) deps.commands?.noteConfigVersion(req.edgeId, req.configVersion);
    inventory.store(req.edgeId, devices).then(
      (stored) => {
        const reportLog = log.child({ edgeId: req.edgeId });
        for (const c of stored.changes) {
          const fields = { deviceId: c.deviceId, from: c.from, to: c.to, code: c.errorCode ?? undefined };
          if (c.to === "fault") reportLog.info(fields, "edge device in fault");
          else reportLog.debug(fields, "edge device state changed");
        }
        if (stored.linked > 0) reportLog.info({ linked: stored.linked }, "ERP devices linked by serial number");
        if (stored.linkError) {
          reportLog.warn(
            { err: stored.linkError },
            "ERP devices not linked by serial number; retried with the next report",
          );
        }
        reportLog.debug({ devices: stored.stored, removed: stored.removed }, "device inventory stored");
        const onDeviceStates = deps.onDeviceStates;
        if (stored.changes.length > 0 && onDeviceStates) {
          Promise.resolve()
            .then(() => onDeviceStates(stored.changes))
            .catch((err) =>
              reportLog.error({ err, changes: stored.changes.length }, "device state changes not handled"),
            );
        }
        callback(null, { stored: stored.stored, removed: stored.removed, linked: stored.linked });
      },
      (err) => {
        log.error({ err, edgeId: req.edgeId }, "device inventory not stored");
        callback(grpcError(status.UNAVAILABLE, "HUB_ERR_DB_UNAVAILABLE: device inventory not stored"));
      },
    );
  };

  /**
   * The command channel of a session: the dispatcher writes the edge's commands to it, and each
   * report the edge sends is applied in order. Ends with the session (and at shutdown).
   */
  const commands: handleBidiStreamingCall<CommandsRequest, CommandsResponse> = (call) => {
    const edgeId = String(call.metadata.get("edge-id")[0] ?? "");
    const refused = refuse(call, edgeId);
    if (refused) {
      call.emit("error", refused);
      return;
    }
    const dispatcher = deps.commands;
    if (!dispatcher) {
      call.emit("error", grpcError(status.UNIMPLEMENTED, "this hub sends no commands"));
      return;
    }
    let ended = false;
    const end = (err: ServerErrorResponse) => {
      if (ended) return;
      ended = true;
      if (!call.destroyed) call.emit("error", err);
    };
    const stream: CommandStream = {
      edgeId,
      write: (message) => {
        if (!ended && !call.destroyed) call.write(message);
      },
      fail: (details) => end(grpcError(status.INVALID_ARGUMENT, details)),
    };
    const close = dispatcher.open(stream);
    inflight.streams.add(end);
    const forget = () => {
      ended = true;
      close();
      inflight.streams.delete(end);
    };
    for (const event of ["close", "finish", "cancelled", "error"]) call.once(event, forget);
    let chain: Promise<void> = Promise.resolve();
    call.on("data", (request: CommandsRequest) => {
      chain = chain
        .then(() => dispatcher.report(stream, request))
        .catch((err) =>
          log.error({ err, edgeId }, "command report not stored; the edge repeats it when the command is sent again"),
        );
    });
    call.on("end", () => {
      void chain.then(() => {
        if (!call.destroyed) call.end();
      });
    });
    call.on("error", (err) => {
      if (!call.cancelled) log.debug({ err, edgeId }, "command stream error");
    });
  };

  return {
    hello: observed("Hello", hello),
    upload,
    commands,
    reportGaps: observed("ReportGaps", reportGaps),
    reportDevices: observed("ReportDevices", reportDevices),
  };
}

/**
 * Starts the gRPC server on `host:port` (0 = any free port) with `credentials`: mutual TLS
 * (with `deps.authorize`), or plaintext when the caller was told `--insecure-dev`.
 */
export async function startSyncServer(
  deps: SyncServiceDeps,
  address: { host: string; port: number },
  credentials: ServerCredentials,
): Promise<SyncServer> {
  const server = new Server({ "grpc.max_receive_message_length": MAX_MESSAGE_BYTES });
  const inflight: InFlight = { stores: new Set(), streams: new Set() };
  server.addService(EdgeSyncServiceService, createSyncHandlers(deps, inflight));
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${address.host}:${address.port}`, credentials, (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  return {
    port,
    async close() {
      // No new calls; give streams a moment to finish what they are storing, then end the open
      // upload streams with UNAVAILABLE (the edges reconnect; unacked batches are resent and
      // absorbed as duplicates), and cut the connections only after that. Cutting a connection
      // under an open stream can leave a Node 20 HTTP/2 client (the edge) spinning in
      // nghttp2 as it resets the stream.
      const shutdown = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      const within = (ms: number) => Promise.race([shutdown, sleep(ms)]);
      await within(1000);
      const unavailable = grpcError(status.UNAVAILABLE, "HUB_ERR_SHUTTING_DOWN: the hub is stopping; reconnect");
      for (const end of inflight.streams) end(unavailable);
      await Promise.allSettled([...inflight.stores]);
      await within(1000);
      server.forceShutdown();
    },
  };
}

/**
 * Redrive handlers of the sync sources: a refused batch (`sync.upload`: the encoded
 * UploadRequest, its edge id in the payload) is decoded and stored again, a refused gap report
 * (`sync.gaps`) checked and stored again; either fails again while the data is still invalid.
 */
export function registerSyncRedrive(queue: DeadLetterQueue, store: ReadingStore): void {
  queue.registerHandler("sync.upload", async ({ payload, payloadBytes }) => {
    const edgeId = (payload as { edgeId?: unknown } | null)?.edgeId;
    if (typeof edgeId !== "string" || !EDGE_ID.test(edgeId) || !payloadBytes) {
      throw hubError("HUB_ERR_BATCH_INVALID", "dead letter carries no edge id or no batch");
    }
    const batch = UploadRequest.decode(payloadBytes).batch;
    if (!batch || batch.seqDelta.length === 0 || batch.seqDelta.length > MAX_BATCH_READINGS) {
      throw hubError("HUB_ERR_BATCH_INVALID", "empty or oversized batch");
    }
    let cols: BatchColumns;
    try {
      cols = decodeBatchColumns(batch);
    } catch (err) {
      throw hubError("HUB_ERR_BATCH_INVALID", (err as Error).message, err);
    }
    await store.storeBatch(edgeId, cols);
  });
  queue.registerHandler("sync.gaps", async ({ payload }) => {
    const req = payload as ReportGapsRequest;
    if (!EDGE_ID.test(String(req?.edgeId)) || !Array.isArray(req.gaps)) {
      throw hubError("HUB_ERR_GAP_INVALID", "dead letter is not a gap report");
    }
    if (req.gaps.some((g) => g.firstSeq < 1 || g.lastSeq < g.firstSeq)) {
      throw hubError("HUB_ERR_GAP_INVALID", "a gap needs 1 <= first_seq <= last_seq");
    }
    await store.storeGaps(req.edgeId, req.gaps);
  });
}
