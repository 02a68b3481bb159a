import { Counter, Histogram, Registry } from "prom-client";

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
      help: "Reading batches by result (committed, rejected, failed)",
      labelNames: ["result"],
      registers,
    }),
    ingestCommitSeconds: new Histogram({
      name: "hub_ingest_commit_seconds",
      help: "Time to store and commit one batch",
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
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
  };
}

/** The metric set returned by `createHubMetrics`. */
export type HubMetrics = ReturnType<typeof createHubMetrics>;
