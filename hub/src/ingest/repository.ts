import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  type BatchColumns,
  columnsOf,
  contiguousHigh,
  type Gap,
  GapReason,
  gapReasonToJSON,
  type Reading,
  rangesContain,
  runsOf,
  type SeqRange,
  type SeriesKey,
  unionRanges,
} from "@steinmetz/proto";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { inTransaction } from "../db/transaction.js";

/** Result of storing one batch. */
export interface StoredBatch {
  inserted: number;
  duplicates: number;
  /** Highest S with every seq 1..S stored or reported as a gap. */
  committedSeq: number;
}

/** What a hello returns to the edge. */
export interface HelloState {
  committedSeq: number;
  /** Committed ranges united with reported gaps. */
  covered: SeqRange[];
  /** Whether this hello flagged the edge's clock as skewed beyond the threshold. */
  clockSkewed: boolean;
}

/** Tuning of the reading store. */
export interface ReadingStoreOptions {
  /** |hub time − edge time| at hello beyond which an edge's clock counts as skewed (default 10 s). */
  clockSkewThresholdMs?: number;
  /**
   * Days around today for which day partitions are created on demand (default 400 back, 2 ahead);
   * readings outside (e.g. a clock at 1970) land in the default partition.
   */
  partitionDaysBack?: number;
  partitionDaysAhead?: number;
}

const DAY_MS = 86_400_000;

/** int8multirange text ("{[1,5),[7,9)}") to inclusive ranges. */
export function parseMultirange(text: string): SeqRange[] {
  const out: SeqRange[] = [];
  for (const m of text.matchAll(/\[(\d+),(\d+)\)/g)) out.push({ first: Number(m[1]), last: Number(m[2]) - 1 });
  return out;
}

/** Inclusive ranges to an int8multirange literal. */
export function formatMultirange(ranges: readonly SeqRange[]): string {
  return `{${ranges.map((r) => `[${r.first},${r.last + 1})`).join(",")}}`;
}

/** A day number (days since epoch, UTC) as an ISO date. */
const isoDay = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);

/** The day number of partition `readings_YYYYMMDD`. */
const dayOfPartition = (name: string) =>
  Date.parse(`${name.slice(9, 13)}-${name.slice(13, 15)}-${name.slice(15, 17)}`) / DAY_MS;

/**
 * The hub's telemetry store in PostgreSQL. Exactly-once without a unique index (which could not
 * span time partitions): each edge's row in `raw.edges` holds the multirange of seqs stored so
 * far; a batch locks that row, drops the seqs already in it, COPYs the rest into the day
 * partitions and adds its seqs to the range, all in one transaction. Concurrent sessions of one
 * edge (a live and a backfill lane, or a stale session) serialise on the row lock.
 */
export class ReadingStore {
  private readonly seriesIds = new Map<string, number>();
  private readonly knownEdges = new Set<string>();
  private readonly partitionDays = new Set<number>();
  private partitionsLoaded = false;
  private readonly skewThresholdMs: number;
  private readonly daysBack: number;
  private readonly daysAhead: number;

  constructor(
    private readonly pool: pg.Pool,
    options: ReadingStoreOptions = {},
  ) {
    this.skewThresholdMs = options.clockSkewThresholdMs ?? 10_000;
    this.daysBack = options.partitionDaysBack ?? 400;
    this.daysAhead = options.partitionDaysAhead ?? 2;
  }

  /**
   * Records a hello: creates the edge on first contact, notes its agent version, clock offset
   * (hub − edge, ms) and whether that offset is a skew, and returns what the hub already covers.
   */
  async hello(edgeId: string, agentVersion: string, clockOffsetMs: number, clockSynced: boolean): Promise<HelloState> {
    const skewed = Math.abs(clockOffsetMs) > this.skewThresholdMs;
    const { rows } = await this.pool.query<{ committed_seq: string; committed: string; gaps: string }>(
      `INSERT INTO raw.edges (edge_id, agent_version, clock_offset_ms, clock_skewed, clock_synced)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (edge_id) DO UPDATE
         SET agent_version = excluded.agent_version, clock_offset_ms = excluded.clock_offset_ms,
             clock_skewed = excluded.clock_skewed, clock_synced = excluded.clock_synced, last_seen_at = now()
       RETURNING committed_seq, committed::text, gaps::text`,
      [edgeId, agentVersion, clockOffsetMs, skewed, clockSynced],
    );
    this.knownEdges.add(edgeId);
    const row = rows[0] as { committed_seq: string; committed: string; gaps: string };
    return {
      committedSeq: Number(row.committed_seq),
      covered: unionRanges(parseMultirange(row.committed), parseMultirange(row.gaps)),
      clockSkewed: skewed,
    };
  }

  /**
   * Stores a batch (seqs ascending, as the edge sends them) in one transaction and resolves
   * only after COMMIT. Seqs already stored are counted as duplicates and not written again.
   */
  async storeBatch(edgeId: string, batch: BatchColumns | readonly Reading[]): Promise<StoredBatch> {
    const cols = "seq" in batch ? batch : columnsOf(batch);
    await this.ensureEdge(edgeId);
    const seriesIds = await this.resolveSeries(edgeId, cols.series);
    await this.ensurePartitions(cols.ts);
    // Built before the lock is taken, assuming no duplicates (the common case); rebuilt if some are.
    let copy = copyBinary(cols, seriesIds);
    return inTransaction(this.pool, async (client) => {
      const row = await lockEdge(client, edgeId);
      const committed = parseMultirange(row.committed);
      const fresh: number[] = [];
      for (let i = 0; i < cols.seq.length; i++) if (!rangesContain(committed, cols.seq[i] as number)) fresh.push(i);
      const inserted = fresh.length;
      if (inserted < cols.seq.length) copy = copyBinary(cols, seriesIds, fresh);
      if (inserted > 0) {
        await pipeline(
          Readable.from([copy]),
          client.query(
            copyFrom(
              "COPY raw.readings (series_id, seq, ts, value, quality, clock_synced) FROM STDIN WITH (FORMAT binary)",
            ),
          ),
        );
      }
      const runs = runsOf(cols.seq);
      const nowCommitted = unionRanges(committed, runs);
      const committedSeq = contiguousHigh(unionRanges(nowCommitted, parseMultirange(row.gaps)));
      await client.query(
        `UPDATE raw.edges SET committed = committed + $2::int8multirange, committed_seq = $3, last_seen_at = now()
         WHERE edge_id = $1`,
        [edgeId, formatMultirange(runs), committedSeq],
      );
      return { inserted, duplicates: cols.seq.length - inserted, committedSeq };
    });
  }

  /** Stores gap records the edge reported (idempotent) and adds them to the edge's gaps. */
  async storeGaps(edgeId: string, gaps: readonly Gap[]): Promise<void> {
    if (gaps.length === 0) return;
    await this.ensureEdge(edgeId);
    await inTransaction(this.pool, async (client) => {
      const row = await lockEdge(client, edgeId);
      const ts = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);
      await client.query(
        `INSERT INTO raw.edge_gaps (edge_id, first_seq, last_seq, count, reason, from_ts, to_ts)
         SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::timestamptz[], $7::timestamptz[])
         ON CONFLICT DO NOTHING`,
        [
          edgeId,
          gaps.map((g) => g.firstSeq),
          gaps.map((g) => g.lastSeq),
          gaps.map((g) => g.count),
          gaps.map((g) => gapReasonName(g.reason)),
          gaps.map((g) => ts(g.fromTsMs)),
          gaps.map((g) => ts(g.toTsMs)),
        ],
      );
      const ranges = unionRanges(
        gaps.map((g) => ({ first: g.firstSeq, last: g.lastSeq })),
        [],
      );
      const allGaps = unionRanges(parseMultirange(row.gaps), ranges);
      const committedSeq = contiguousHigh(unionRanges(parseMultirange(row.committed), allGaps));
      await client.query(
        "UPDATE raw.edges SET gaps = gaps + $2::int8multirange, committed_seq = $3, last_seen_at = now() WHERE edge_id = $1",
        [edgeId, formatMultirange(ranges), committedSeq],
      );
    });
  }

  /** Creates the day partitions from today to `daysAhead` days ahead (run at start and hourly). */
  async createPartitionsAhead(now = Date.now()): Promise<void> {
    const today = Math.floor(now / DAY_MS);
    for (let day = today; day <= today + this.daysAhead; day++) await this.ensurePartition(day);
  }

  /**
   * Retention: day partitions entirely older than `days` days are detached (kept as
   * `raw.readings_YYYYMMDD` tables for archiving, e.g. with pg_dump) or dropped.
   * Returns the partitions handled.
   */
  async applyRetention(days: number, action: "detach" | "drop", now = Date.now()): Promise<string[]> {
    const limit = isoDay(Math.floor(now / DAY_MS) - days).replaceAll("-", "");
    const { rows } = await this.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'raw.readings'::regclass AND c.relname ~ '^readings_[0-9]{8}$' AND c.relname < $1
       ORDER BY 1`,
      [`readings_${limit}`],
    );
    for (const { name } of rows) {
      await this.pool.query(`ALTER TABLE raw.readings DETACH PARTITION raw.${name}`);
      if (action === "drop") await this.pool.query(`DROP TABLE raw.${name}`);
      this.partitionDays.delete(dayOfPartition(name));
    }
    return rows.map((r) => r.name);
  }

  private async ensureEdge(edgeId: string): Promise<void> {
    if (this.knownEdges.has(edgeId)) return;
    await this.pool.query("INSERT INTO raw.edges (edge_id) VALUES ($1) ON CONFLICT DO NOTHING", [edgeId]);
    this.knownEdges.add(edgeId);
  }

  /** The series id of each entry of `series`, created on first sight; ids never change. */
  private async resolveSeries(edgeId: string, series: readonly SeriesKey[]): Promise<number[]> {
    const key = (s: SeriesKey) => `${edgeId}\u0000${s.deviceId}\u0000${s.point}`;
    const missing = series.filter((s) => !this.seriesIds.has(key(s)));
    if (missing.length > 0) {
      const devices = missing.map((m) => m.deviceId);
      const points = missing.map((m) => m.point);
      await this.pool.query(
        `INSERT INTO raw.series (edge_id, device_id, point) SELECT $1, * FROM unnest($2::text[], $3::text[])
         ON CONFLICT DO NOTHING`,
        [edgeId, devices, points],
      );
      const { rows } = await this.pool.query<{ series_id: number; device_id: string; point: string }>(
        `SELECT series_id, device_id, point FROM raw.series
         WHERE edge_id = $1 AND (device_id, point) IN (SELECT * FROM unnest($2::text[], $3::text[]))`,
        [edgeId, devices, points],
      );
      for (const row of rows) this.seriesIds.set(key({ deviceId: row.device_id, point: row.point }), row.series_id);
    }
    return series.map((s) => this.seriesIds.get(key(s)) as number);
  }

  /** Makes sure the day partitions of the batch's readings exist (within the on-demand window). */
  private async ensurePartitions(ts: readonly number[]): Promise<void> {
    if (!this.partitionsLoaded) {
      const { rows } = await this.pool.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'raw.readings'::regclass AND c.relname ~ '^readings_[0-9]{8}$'`,
      );
      for (const { name } of rows) {
        this.partitionDays.add(dayOfPartition(name));
      }
      this.partitionsLoaded = true;
    }
    const today = Math.floor(Date.now() / DAY_MS);
    let previous = Number.NaN;
    for (const t of ts) {
      const day = Math.floor(t / DAY_MS);
      if (day === previous) continue;
      previous = day;
      if (this.partitionDays.has(day) || day < today - this.daysBack || day > today + this.daysAhead) continue;
      await this.ensurePartition(day);
    }
  }

  private async ensurePartition(day: number): Promise<void> {
    if (this.partitionDays.has(day)) return;
    await this.pool.query("SELECT raw.ensure_readings_partition($1::date)", [isoDay(day)]);
    this.partitionDays.add(day);
  }
}

/**
 * Locks the edge's row for the rest of the transaction (every writer of one edge serialises
 * here) and returns its committed and gap multiranges as text.
 */
async function lockEdge(client: pg.PoolClient, edgeId: string): Promise<{ committed: string; gaps: string }> {
  const { rows } = await client.query<{ committed: string; gaps: string }>(
    "SELECT committed::text, gaps::text FROM raw.edges WHERE edge_id = $1 FOR UPDATE",
    [edgeId],
  );
  return rows[0] as { committed: string; gaps: string };
}

/** PostgreSQL's epoch (2000-01-01) in Unix ms. */
const PG_EPOCH_MS = 946_684_800_000;
const COPY_SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
/** Bytes of one row: field count, then (length, value) of int4, int8, timestamptz, float8, int2, bool. */
const ROW_BYTES = 2 + 8 + 12 + 12 + 12 + 6 + 5;

/**
 * Rows `rows` (default all) of a batch as COPY binary data for (series_id, seq, ts, value,
 * quality, clock_synced), `seriesIds` giving the id of each batch series: no text formatting here
 * and no parsing in PostgreSQL, which makes COPY about 1.5x faster than text.
 */
export function copyBinary(cols: BatchColumns, seriesIds: readonly number[], rows?: readonly number[]): Buffer {
  const n = rows ? rows.length : cols.seq.length;
  const buf = Buffer.allocUnsafe(COPY_SIGNATURE.length + 8 + n * ROW_BYTES + 2);
  let o = COPY_SIGNATURE.copy(buf, 0);
  o = buf.writeInt32BE(0, o); // flags
  o = buf.writeInt32BE(0, o); // header extension length
  for (let k = 0; k < n; k++) {
    const i = rows ? (rows[k] as number) : k;
    const value = cols.value[i] as number;
    o = buf.writeInt16BE(6, o);
    o = buf.writeInt32BE(4, o);
    o = buf.writeInt32BE(seriesIds[cols.seriesIndex[i] as number] as number, o);
    o = buf.writeInt32BE(8, o);
    o = buf.writeBigInt64BE(BigInt(cols.seq[i] as number), o);
    o = buf.writeInt32BE(8, o);
    o = buf.writeBigInt64BE(BigInt((cols.ts[i] as number) - PG_EPOCH_MS) * 1000n, o);
    if (Number.isNaN(value)) o = buf.writeInt32BE(-1, o);
    else {
      o = buf.writeInt32BE(8, o);
      o = buf.writeDoubleBE(value, o);
    }
    o = buf.writeInt32BE(2, o);
    o = buf.writeInt16BE(cols.quality[i] as number, o);
    o = buf.writeInt32BE(1, o);
    o = buf.writeUInt8(cols.clockSynced[i] ? 1 : 0, o);
  }
  o = buf.writeInt16BE(-1, o); // trailer
  return buf.subarray(0, o);
}

/** The name a gap reason is stored under ("buffer-full", "ttl", ...). */
export function gapReasonName(reason: GapReason): string {
  return reason === GapReason.UNRECOGNIZED
    ? "unspecified"
    : gapReasonToJSON(reason)
        .replace(/^GAP_REASON_/, "")
        .toLowerCase()
        .replaceAll("_", "-");
}
