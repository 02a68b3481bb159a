import type Database from "better-sqlite3";

/** Bucket length of a rollup. */
export type RollupPeriod = "1m" | "15m";

/** One rollup bucket of one series: `t` is the bucket start (ms since epoch). */
export interface RollupPoint {
  t: number;
  count: number;
  avg: number;
  min: number;
  max: number;
  /** The value of the bucket's latest reading (by acquisition time). */
  last: number;
}

const PERIOD_MS: Record<RollupPeriod, number> = { "1m": 60_000, "15m": 900_000 };
const MINUTE = PERIOD_MS["1m"];

/** The rollups table: one row per (period, series, bucket start); `period` in seconds (60 or 900). */
export const ROLLUPS_SCHEMA = `
CREATE TABLE IF NOT EXISTS rollups (
  period INTEGER NOT NULL,
  series_id INTEGER NOT NULL,
  t INTEGER NOT NULL,
  count INTEGER NOT NULL,
  sum REAL NOT NULL,
  vmin REAL NOT NULL,
  vmax REAL NOT NULL,
  last REAL NOT NULL,
  last_ts INTEGER NOT NULL,
  PRIMARY KEY (period, series_id, t)
) STRICT, WITHOUT ROWID;
`;

/** A bucket being accumulated; merging two of the same bucket is associative, so splits are harmless. */
interface Bucket {
  seriesId: number;
  t: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  lastTs: number;
}

const merge = (into: Bucket, b: Bucket): void => {
  into.count += b.count;
  into.sum += b.sum;
  if (b.min < into.min) into.min = b.min;
  if (b.max > into.max) into.max = b.max;
  if (b.lastTs >= into.lastTs) {
    into.last = b.last;
    into.lastTs = b.lastTs;
  }
};

const toPoint = (b: Bucket): RollupPoint => ({
  t: b.t,
  count: b.count,
  avg: b.sum / b.count,
  min: b.min,
  max: b.max,
  last: b.last,
});

/**
 * Local 1-minute and 15-minute rollups (count, sum, min, max, last) per series, for the local UI's
 * charts. Readings are accumulated in memory as they are committed (so acknowledged readings
 * deleted later do not change them); `flush` writes the buckets that are closed (a later minute
 * of the series arrived, or the minute is over by the clock) with an UPSERT that merges into what
 * is stored, and the 15-minute rows are derived from the same buckets. Queries merge what is
 * still in memory, so the current minute shows too. A crash loses the buckets not yet flushed
 * (at most the last minute and the flush interval); the readings themselves are in the buffer.
 */
export class Rollups {
  /** The current minute of each series. */
  private readonly open = new Map<number, Bucket>();
  /** Closed minutes not yet written (superseded by a later minute, or readings arriving late). */
  private closed: Bucket[] = [];
  private readonly upsert: Database.Statement<[number, number, number, number, number, number, number, number, number]>;
  private readonly select: Database.Statement<[number, number, number, number]>;
  private readonly prune: Database.Statement<[number, number, number]>;
  private readonly writeTx: (buckets: Bucket[]) => void;

  constructor(private readonly db: Database.Database) {
    db.exec(ROLLUPS_SCHEMA);
    this.upsert = db.prepare(
      `INSERT INTO rollups (period, series_id, t, count, sum, vmin, vmax, last, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (period, series_id, t) DO UPDATE SET
         count = rollups.count + excluded.count,
         sum = rollups.sum + excluded.sum,
         vmin = min(rollups.vmin, excluded.vmin),
         vmax = max(rollups.vmax, excluded.vmax),
         last = CASE WHEN excluded.last_ts >= rollups.last_ts THEN excluded.last ELSE rollups.last END,
         last_ts = max(rollups.last_ts, excluded.last_ts)`,
    );
    this.select = db.prepare(
      `SELECT t, count, sum, vmin AS min, vmax AS max, last, last_ts AS lastTs FROM rollups
       WHERE period = ? AND series_id = ? AND t >= ? AND t < ? ORDER BY t`,
    );
    this.prune = db.prepare("DELETE FROM rollups WHERE period = ? AND series_id = ? AND t < ?");
    this.writeTx = db.transaction((buckets: Bucket[]) => {
      const quarters = new Map<string, Bucket>();
      for (const b of buckets) {
        this.write(60, b);
        const t = Math.floor(b.t / PERIOD_MS["15m"]) * PERIOD_MS["15m"];
        const key = `${b.seriesId}:${t}`;
        const q = quarters.get(key);
        if (q) merge(q, b);
        else quarters.set(key, { ...b, t });
      }
      for (const q of quarters.values()) this.write(900, q);
    });
  }

  /** Adds one committed reading with a value. */
  add(seriesId: number, ts: number, value: number): void {
    const t = Math.floor(ts / MINUTE) * MINUTE;
    const current = this.open.get(seriesId);
    if (current !== undefined && current.t === t) {
      current.count++;
      current.sum += value;
      if (value < current.min) current.min = value;
      if (value > current.max) current.max = value;
      if (ts >= current.lastTs) {
        current.last = value;
        current.lastTs = ts;
      }
      return;
    }
    const bucket = { seriesId, t, count: 1, sum: value, min: value, max: value, last: value, lastTs: ts };
    if (current === undefined || t > current.t) {
      if (current !== undefined) this.closed.push(current);
      this.open.set(seriesId, bucket);
    } else {
      this.closed.push(bucket); // a reading for an earlier minute: merged when written
    }
  }

  /**
   * Writes the closed buckets (all of them with `all`, e.g. on close) in one transaction; on
   * failure they stay in memory for the next attempt and the error is thrown.
   */
  flush(now: number, all = false): number {
    const due = this.closed;
    this.closed = [];
    for (const [seriesId, bucket] of this.open) {
      if (all || bucket.t + MINUTE <= now) {
        due.push(bucket);
        this.open.delete(seriesId);
      }
    }
    if (due.length === 0) return 0;
    try {
      this.writeTx(due);
    } catch (err) {
      this.closed.push(...due);
      throw err;
    }
    return due.length;
  }

  /** Deletes buckets that started before `before` for the given series. */
  pruneBefore(before: number, seriesIds: Iterable<number>): void {
    this.db.transaction(() => {
      for (const id of seriesIds) {
        this.prune.run(60, id, before);
        this.prune.run(900, id, before);
      }
    })();
  }

  /** Bytes of the pages the rollups table occupies (walks its b-tree: call it rarely). */
  bytes(): number {
    const row = this.db.prepare("SELECT pgsize FROM dbstat('main', 1) WHERE name = 'rollups'").get() as
      | { pgsize: number | null }
      | undefined;
    return row?.pgsize ?? 0;
  }

  /** Buckets of one series with start in [from, to), ascending, including what is not yet flushed. */
  query(seriesId: number, period: RollupPeriod, from: number, to: number): RollupPoint[] {
    const ms = PERIOD_MS[period];
    const seconds = ms / 1000;
    const byT = new Map<number, Bucket>();
    for (const row of this.select.all(seconds, seriesId, from, to) as Omit<Bucket, "seriesId">[]) {
      byT.set(row.t, { seriesId, ...row });
    }
    const pending = [...this.closed];
    const current = this.open.get(seriesId);
    if (current) pending.push(current);
    for (const b of pending) {
      if (b.seriesId !== seriesId) continue;
      const t = Math.floor(b.t / ms) * ms;
      if (t < from || t >= to) continue;
      const have = byT.get(t);
      if (have) merge(have, b);
      else byT.set(t, { ...b, t });
    }
    return [...byT.values()].sort((a, b) => a.t - b.t).map(toPoint);
  }

  private write(period: number, b: Bucket): void {
    this.upsert.run(period, b.seriesId, b.t, b.count, b.sum, b.min, b.max, b.last, b.lastTs);
  }
}
