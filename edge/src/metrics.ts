import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The edge's Prometheus metrics, on a registry of their own (served at /metrics). */
export function createEdgeMetrics() {
  const registry = new Registry();
  const registers = [registry];
  return {
    registry,
    readingsCommitted: new Counter({
      name: "edge_readings_committed_total",
      help: "Readings handed to the local buffer (committed within the commit window)",
      labelNames: ["device"],
      registers,
    }),
    pollCycles: new Counter({
      name: "edge_poll_cycles_total",
      help: "Device poll cycles by result",
      labelNames: ["device", "result"],
      registers,
    }),
    pollOverruns: new Counter({
      name: "edge_poll_overruns_total",
      help: "Poll cycles that took longer than the device's poll interval",
      labelNames: ["device"],
      registers,
    }),
    pollDuration: new Histogram({
      name: "edge_poll_duration_seconds",
      help: "Duration of successful poll cycles",
      labelNames: ["device"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    mqttMalformed: new Counter({
      name: "edge_mqtt_malformed_total",
      help: "MQTT messages that yielded no reading (kept as dead letters)",
      labelNames: ["device"],
      registers,
    }),
    syncAcked: new Counter({
      name: "edge_sync_acked_readings_total",
      help: "Readings the hub acknowledged as committed",
      registers,
    }),
    syncBatches: new Counter({
      name: "edge_sync_batches_sent_total",
      help: "Batches sent to the hub (resends after a reconnect included)",
      registers,
    }),
    syncReconnects: new Counter({
      name: "edge_sync_reconnects_total",
      help: "Failed or ended sync sessions followed by a reconnect",
      registers,
    }),
    syncAckLatency: new Histogram({
      name: "edge_sync_ack_latency_seconds",
      help: "Time from sending a batch to its acknowledgement",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    /** Gauges that read state when scraped; the agent sets their collect callbacks. */
    gauge: (name: string, help: string, collect: (g: Gauge) => void, labelNames: string[] = []) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          collect(this);
        },
      }),
  };
}

/** The metric set returned by `createEdgeMetrics`. */
export type EdgeMetrics = ReturnType<typeof createEdgeMetrics>;
