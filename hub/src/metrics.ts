import type pg from "pg";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The hub's Prometheus metrics, on a registry of their own (served at /metrics). */
export function createHubMetrics() {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    ingestReadings: new Counter({
      name: "hub_ingest_readings_total",
      help: "Readings received from edges, by result (inserted or duplicate)",
      labelNames: ["result"],
      registers,
    }),
    ingestBatches: new Counter({
      name: "hub_ingest_batches_total",
      help: "Reading batches by result (committed, rejected, failed) and lane (live, backfill)",
      labelNames: ["result", "lane"],
      registers,
    }),
    ingestCommitSeconds: new Histogram({
      name: "hub_ingest_commit_seconds",
      help: "Time to store and commit one batch, by lane",
      labelNames: ["lane"],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    gapReadings: new Counter({
      name: "hub_sync_gap_readings_total",
      help: "Readings edges reported as given up (evicted, rejected, lost), by reason",
      labelNames: ["reason"],
      registers,
    }),
    syncRefused: new Counter({
      name: "hub_sync_refused_calls_total",
      help: "Edge calls refused for their identity (certificate missing, unknown, revoked, id mismatch)",
      labelNames: ["code"],
      registers,
    }),
    syncSessions: new Counter({
      name: "hub_sync_sessions_total",
      help: "Hello calls from edges",
      registers,
    }),
    httpDuration: new Histogram({
      name: "hub_http_request_duration_seconds",
      help: "HTTP request latency by route and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    grpcCalls: new Counter({
      name: "hub_grpc_calls_total",
      help: "gRPC calls of edges by method and status code (OK, INVALID_ARGUMENT, UNAVAILABLE, ...)",
      labelNames: ["method", "code"],
      registers,
    }),
    grpcDuration: new Histogram({
      name: "hub_grpc_call_duration_seconds",
      help: "Duration of unary gRPC calls (Hello, ReportGaps) by method",
      labelNames: ["method"],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    idempotencyRequests: new Counter({
      name: "hub_idempotency_requests_total",
      help: "Requests with an Idempotency-Key by outcome: claimed (first), replay, mismatch (422), in-flight (409)",
      labelNames: ["outcome"],
      registers,
    }),
    /** A gauge that reads state when scraped. */
    gauge: (name: string, help: string, collect: (g: Gauge) => void) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          collect(this);
        },
      }),
  };
}

/** Exports the pool's connections: `hub_pg_pool_connections{state="total|idle|waiting"}`. */
export function observePool(metrics: { registry: Registry }, pool: pg.Pool): void {
  new Gauge({
    name: "hub_pg_pool_connections",
    help: "PostgreSQL pool: connections open (total), idle, and requests waiting for one",
    labelNames: ["state"],
    registers: [metrics.registry],
    collect() {
      this.set({ state: "total" }, pool.totalCount);
      this.set({ state: "idle" }, pool.idleCount);
      this.set({ state: "waiting" }, pool.waitingCount);
    },
  });
}

/** The metric set returned by `createHubMetrics`. */
export type HubMetrics = ReturnType<typeof createHubMetrics>;
