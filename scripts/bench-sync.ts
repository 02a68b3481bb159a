/**
 * Sync throughput: a backlog of readings in the edge buffer streamed by the real forwarder over
 * gRPC to a real hub into PostgreSQL, next to the hub's own batch insert called directly (no
 * buffer, no gRPC) with the same batches in the same run.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { credentials } from "@grpc/grpc-js";
import { createEdgeMetrics, Forwarder, ReadingBuffer } from "@steinmetz/edge";
import { startEmbeddedPostgres, startHub } from "@steinmetz/hub";
import { Quality, type Reading } from "@steinmetz/proto";
import pino from "pino";

const BATCH = 1000;
const POINTS = ["active_power", "energy_exported", "ac_voltage_l1", "frequency", "dc_power"];

function readings(total: number): Omit<Reading, "seq">[] {
  return Array.from({ length: total }, (_, i) => ({
    deviceId: `inverter-${i % 10}`,
    point: POINTS[i % POINTS.length] as string,
    ts: 1_790_000_000_000 + Math.floor(i / 50) * 1000,
    value: i * 0.5,
    quality: Quality.QUALITY_GOOD,
    clockSynced: true,
  }));
}

/** Runs the sync benchmark; returns readings/s through the whole path and for direct inserts. */
export async function benchSync(total = 200_000): Promise<{ value: number; baseline: number }> {
  const log = pino({ level: "silent" });
  const dir = mkdtempSync(join(tmpdir(), "bench-sync-"));
  const db = await startEmbeddedPostgres(join(dir, "pg"), log);
  const hub = await startHub({ databaseUrl: db.url, dataDir: dir, httpPort: 0, grpcPort: 0, insecureDev: true, log });
  try {
    const data = readings(total);
    let started = performance.now();
    for (let i = 0; i < total; i += BATCH) {
      const batch = data.slice(i, i + BATCH).map((r, j) => ({ ...r, seq: i + j + 1 }));
      await hub.store.storeBatch("bench-direct", batch);
    }
    const baseline = total / ((performance.now() - started) / 1000);

    const buffer = ReadingBuffer.open(join(dir, "buffer.sqlite"));
    for (let i = 0; i < total; i += BATCH) buffer.append(data.slice(i, i + BATCH));
    const forwarder = new Forwarder({
      hubUrl: `127.0.0.1:${hub.grpcPort}`,
      credentials: credentials.createInsecure(),
      buffer,
      log,
      metrics: createEdgeMetrics(),
      agentVersion: "bench",
      clockSynced: () => true,
      batchSize: BATCH,
    });
    started = performance.now();
    forwarder.start();
    const deadline = Date.now() + 600_000;
    while (buffer.stats().depth > 0 && Date.now() < deadline) await sleep(20);
    const value = total / ((performance.now() - started) / 1000);
    await forwarder.stop();
    buffer.close();
    return { value, baseline };
  } finally {
    await hub.close();
    await db.stop();
  }
}
