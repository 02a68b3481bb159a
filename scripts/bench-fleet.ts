/**
 * Load generator for the sync benchmark, run as its own process: `EDGES` simulated edges, each a
 * real buffer file with a backlog of `PER_EDGE` readings plus live readings every second, each
 * forwarded by the real Forwarder to the hub at `HUB_URL` (plaintext, 127.0.0.1). Prints one JSON
 * line: readings/s delivered, and ack latency percentiles over all edges.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { credentials } from "@grpc/grpc-js";
import { createEdgeMetrics, Forwarder, ReadingBuffer } from "@steinmetz/edge";
import { Quality } from "@steinmetz/proto";
import pino from "pino";

const edges = Number(process.env.EDGES ?? 100);
const perEdge = Number(process.env.PER_EDGE ?? 20_000);
const hubUrl = process.env.HUB_URL as string;
const log = pino({ level: "silent" });
const dir = mkdtempSync(join(tmpdir(), "bench-fleet-"));

const reading = (device: string, point: string, ts: number, value: number) => ({
  deviceId: device,
  point,
  ts,
  value,
  quality: Quality.QUALITY_GOOD,
  clockSynced: true,
});

const latencies: number[] = [];
const buffers: ReadingBuffer[] = [];
const start = Date.now() - 3_600_000;
for (let e = 0; e < edges; e++) {
  mkdirSync(join(dir, `edge-${e}`));
  const buffer = ReadingBuffer.open(join(dir, `edge-${e}`, "buffer.sqlite"), { rollupDays: 0 });
  for (let i = 0; i < perEdge; i += 1000) {
    buffer.append(
      Array.from({ length: 1000 }, (_, j) => reading(`inv-${j % 10}`, `p${j % 20}`, start + (i + j) * 100, i + j)),
    );
  }
  buffers.push(buffer);
}
const total = buffers.reduce((n, b) => n + b.stats().depth, 0);

const forwarders = buffers.map(
  (buffer) =>
    new Forwarder({
      hubUrl,
      credentials: credentials.createInsecure(),
      buffer,
      log,
      metrics: createEdgeMetrics(),
      agentVersion: "bench",
      clockSynced: () => true,
      onAck: (_lane, ms) => latencies.push(ms),
    }),
);
const live = setInterval(() => {
  const now = Date.now();
  for (const b of buffers) b.append(Array.from({ length: 20 }, (_, j) => reading("live", `p${j}`, now, j)));
}, 1000);

const started = performance.now();
for (const f of forwarders) f.start();
const deadline = Date.now() + 600_000;
let backlogSeconds = Number.NaN;
while (Date.now() < deadline) {
  const depth = buffers.reduce((n, b) => n + b.stats().depth, 0);
  if (depth <= edges * 40) {
    backlogSeconds = (performance.now() - started) / 1000;
    break;
  }
  await sleep(100);
}
clearInterval(live);
await Promise.all(forwarders.map((f) => f.stop()));
for (const b of buffers) b.close();
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
process.stdout.write(
  `${JSON.stringify({ edges, readings: total, perSecond: total / backlogSeconds, p50: pct(0.5), p99: pct(0.99), acks: latencies.length })}\n`,
);
