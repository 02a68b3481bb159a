import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { BufferStats } from "./buffer/reading-buffer.js";

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
      help: "Batches sent to the hub by lane (resends after a reconnect included)",
      labelNames: ["lane"],
      registers,
    }),
    syncSent: new Counter({
      name: "edge_sync_sent_readings_total",
      help: "Readings sent to the hub by lane (live, backfill); its rate is the send rate",
      labelNames: ["lane"],
      registers,
    }),
    syncRejected: new Counter({
      name: "edge_sync_rejected_batches_total",
      help: "Sessions ended because the hub refused a batch or gap report as invalid",
      registers,
    }),
    syncReconnects: new Counter({
      name: "edge_sync_reconnects_total",
      help: "Failed or ended sync sessions followed by a reconnect",
      registers,
    }),
    syncAckLatency: new Histogram({
      name: "edge_sync_ack_latency_seconds",
      help: "Time from sending a batch to its acknowledgement, by lane",
      labelNames: ["lane"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    /**
     * The buffer's metrics, read from its `stats()` when scraped (the agent calls this once):
     * depth, bytes, oldest unacknowledged age, pending gap records, and the readings given up by
     * reason (`edge_buffer_evicted_readings_total`, totals the buffer keeps across restarts).
     */
    observeBuffer(stats: () => BufferStats, now: () => number = Date.now): void {
      const gauge = (name: string, help: string, read: (s: BufferStats) => number) =>
        new Gauge({
          name,
          help,
          registers,
          collect() {
            this.set(read(stats()));
          },
        });
      gauge("edge_buffer_depth", "Readings buffered and not yet acknowledged", (s) => s.depth);
      gauge("edge_buffer_oldest_age_seconds", "Age of the oldest buffered reading", (s) =>
        s.oldestTs === null ? 0 : (now() - s.oldestTs) / 1000,
      );
      gauge("edge_buffer_bytes", "Bytes of the buffer file in use (pages in use times page size)", (s) => s.bytes);
      gauge(
        "edge_buffer_pending_gaps",
        "Gap records (seq ranges given up) not yet reported to the hub",
        (s) => s.pendingGaps,
      );
      new Counter({
        name: "edge_buffer_evicted_readings_total",
        help: "Readings the buffer gave up by reason (buffer_full, ttl, disk_low, rejected), kept across restarts",
        labelNames: ["reason"],
        registers,
        collect() {
          this.reset();
          for (const [reason, n] of Object.entries(stats().evicted)) this.inc({ reason }, n);
        },
      });
    },
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
