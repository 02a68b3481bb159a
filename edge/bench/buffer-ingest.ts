/**
 * Edge buffer ingest: readings/s committed to SQLite through ReadingBuffer.append, next to a raw
 * better-sqlite3 loop inserting the same rows into the same table shape with the same pragmas and
 * the same rows per transaction. Runs are interleaved and the median of each is reported.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Quality } from "@steinmetz/proto";
import Database from "better-sqlite3";
import { type NewReading, ReadingBuffer } from "../src/buffer/reading-buffer.js";

const POINTS = ["active_power", "energy_exported", "ac_voltage_l1", "ac_voltage_l2", "ac_voltage_l3", "frequency"];

function makeReadings(total: number): NewReading[] {
  return Array.from({ length: total }, (_, i) => ({
    deviceId: `inverter-${i % 5}`,
    point: POINTS[i % POINTS.length] as string,
    ts: 1_790_000_000_000 + Math.floor(i / 30) * 1000,
    value: i % 17 === 0 ? null : i * 0.5,
    quality: i % 17 === 0 ? Quality.QUALITY_NOT_IMPLEMENTED : Quality.QUALITY_GOOD,
    clockSynced: true,
  }));
}

function viaBuffer(dir: string, readings: NewReading[], perCommit: number): number {
  const buffer = ReadingBuffer.open(join(dir, "buffer.sqlite"));
  const started = performance.now();
  for (let i = 0; i < readings.length; i += perCommit) buffer.append(readings.slice(i, i + perCommit));
  const seconds = (performance.now() - started) / 1000;
  buffer.close();
  return readings.length / seconds;
}

function rawLoop(dir: string, readings: NewReading[], perCommit: number): number {
  const db = new Database(join(dir, "raw.sqlite"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(`CREATE TABLE readings (seq INTEGER PRIMARY KEY, series_id INTEGER NOT NULL, ts INTEGER NOT NULL,
    value REAL, quality INTEGER NOT NULL, clock_synced INTEGER NOT NULL) STRICT`);
  const insert = db.prepare("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?)");
  const series = new Map<string, number>();
  const ids = readings.map((r) => {
    const key = `${r.deviceId}\u0000${r.point}`;
    if (!series.has(key)) series.set(key, series.size + 1);
    return series.get(key) as number;
  });
  const commit = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const r = readings[i] as NewReading;
      insert.run(i + 1, ids[i] as number, r.ts, r.value, r.quality, r.clockSynced ? 1 : 0);
    }
  });
  const started = performance.now();
  for (let i = 0; i < readings.length; i += perCommit) commit(i, Math.min(i + perCommit, readings.length));
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return readings.length / seconds;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Runs the benchmark and returns one result line per batch size. */
export function benchBufferIngest(rounds = 3): { name: string; value: number; baseline: number; ratio: number }[] {
  const results = [];
  for (const [perCommit, total] of [
    [1000, 200_000],
    [20, 10_000],
  ] as const) {
    const readings = makeReadings(total);
    const ours: number[] = [];
    const raw: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const [run, out] of [
        [rawLoop, raw],
        [viaBuffer, ours],
      ] as const) {
        const dir = mkdtempSync(join(tmpdir(), "bench-buffer-"));
        try {
          out.push(run(dir, readings, perCommit));
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
    const value = median(ours);
    const baseline = median(raw);
    results.push({
      name: `edge buffer ingest, ${perCommit} readings per commit (readings/s)`,
      value,
      baseline,
      ratio: value / baseline,
    });
  }
  return results;
}
