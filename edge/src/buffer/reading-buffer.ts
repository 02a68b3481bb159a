import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { type StatsFs, statfsSync } from "node:fs";
import { dirname, join } from "node:path";
import { type BatchColumns, GapReason, newColumns, type Quality, type Reading } from "@steinmetz/proto";
import Database from "better-sqlite3";
import type { Logger } from "pino";
import { EdgeError } from "../errors.js";
import { type EdgeState, readEdgeState, writeEdgeState } from "./edge-state.js";
import { CorruptBufferError, isCorruption, moveAside, type Salvaged, salvage } from "./recovery.js";
import { type RollupPeriod, type RollupPoint, Rollups } from "./rollups.js";
import {
  BUFFER_DEFAULTS,
  type BufferPolicy,
  type BufferSettings,
  type BufferStats,
  type DeadLetter,
  type EvictionReason,
  type GapRecord,
  type NewReading,
  type ReadingBufferOptions,
  type RecoveredBuffer,
} from "./types.js";

export type {
  BufferPolicy,
  BufferSettings,
  BufferStats,
  DeadLetter,
  EvictionReason,
  GapRecord,
  NewReading,
  ReadingBufferOptions,
  RecoveredBuffer,
};
export { BUFFER_DEFAULTS };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY,
  device_id TEXT NOT NULL,
  point TEXT NOT NULL,
  UNIQUE (device_id, point)
) STRICT;
CREATE TABLE IF NOT EXISTS readings (
  seq INTEGER PRIMARY KEY,
  series_id INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  value REAL,
  quality INTEGER NOT NULL,
  clock_synced INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  source TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  error TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS gaps (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  count INTEGER NOT NULL,
  reason INTEGER NOT NULL,
  from_ts INTEGER NOT NULL,
  to_ts INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS reported_gaps (
  id INTEGER PRIMARY KEY,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  count INTEGER NOT NULL,
  reason INTEGER NOT NULL,
  from_ts INTEGER NOT NULL,
  to_ts INTEGER NOT NULL,
  reported_at INTEGER NOT NULL
) STRICT;
`;

/** Dead letters kept; older ones are dropped. */
const DEAD_LETTERS_KEPT = 10_000;
/** Gap records the hub acknowledged, kept for the status page; older ones are dropped. */
const REPORTED_GAPS_KEPT = 1000;
/** Eviction goes down to this share of the budget, so it runs once per 5 % of it, not per commit. */
const EVICT_TO = 0.95;
const TTL_CHECK_MS = 60_000;
const DISK_CHECK_MS = 5_000;
const ROLLUP_FLUSH_MS = 5_000;
const ROLLUP_PRUNE_MS = 3_600_000;

const REASONS: Record<EvictionReason, GapReason> = {
  buffer_full: GapReason.GAP_REASON_BUFFER_FULL,
  ttl: GapReason.GAP_REASON_TTL,
  disk_low: GapReason.GAP_REASON_DISK_LOW,
  rejected: GapReason.GAP_REASON_REJECTED,
};
const EVICTION_REASONS = Object.keys(REASONS) as EvictionReason[];

type Row = { seq: number; series_id: number; ts: number; value: number | null; quality: number; clock_synced: number };
type Span = { count: number; first: number | null; last: number | null; fromTs: number | null; toTs: number | null };
type GapRow = {
  id: number;
  firstSeq: number;
  lastSeq: number;
  count: number;
  reason: number;
  fromTs: number;
  toTs: number;
};

/** What one append transaction did, applied to the in-memory state only after it committed. */
interface Outcome {
  stored: number;
  evicted: number;
  gaps: GapRecord[];
  counts: Partial<Record<EvictionReason, number>>;
}

/**
 * The edge's store-and-forward buffer: one SQLite file in WAL mode, plus `edge-state.json` beside
 * it holding the edge identity and a seq reservation ceiling.
 *
 * Every `append` is one transaction that gives each reading the next seq and persists the
 * high-water mark with it. Seqs are also reserved in blocks in the state file (one small atomic
 * write per `seqBlock` readings, before the seqs are used), so a lost or corrupt buffer restarts
 * at the ceiling: a seq is never handed out twice, across crashes, restarts and buffer wipes.
 * Durability: `synchronous=FULL`, so a committed reading survives a power cut too; commits are
 * batched (one per poll cycle, not per reading), which keeps the writes an SD card sees low.
 *
 * At open the file gets `PRAGMA quick_check`; a corrupt file is moved aside
 * (`buffer.sqlite.corrupt-<time>`), logged, and replaced by a fresh buffer that records a
 * `BUFFER_CORRUPT` gap over every seq below the ceiling (the hub subtracts what it has).
 *
 * Budget: rows, bytes, free disk and a TTL are enforced on append by the policy; whatever is given
 * up is counted (kept across restarts) and recorded as a gap for the hub, never dropped silently.
 * Rows leave otherwise only through `delete`/`deleteThrough`/`deleteCovered`, after the hub has
 * them.
 *
 * Emits `appended` after each commit that stored readings, and `gap` for every gap record written.
 */
export class ReadingBuffer extends EventEmitter<{ appended: []; gap: [GapRecord] }> {
  private identity: string;
  private readonly db: Database.Database;
  private readonly limits: BufferSettings;
  private readonly log: Logger | undefined;
  private readonly now: () => number;
  private readonly statfs: (dir: string) => Pick<StatsFs, "bavail" | "bsize">;
  private readonly dir: string;
  private readonly statePath: string;
  private readonly seqBlock: number;
  private readonly recovered: RecoveredBuffer | null;
  private readonly rollupStore: Rollups | null;
  private readonly seriesIds = new Map<string, Map<string, number>>();
  private readonly seriesKeys = new Map<number, { deviceId: string; point: string }>();
  private readonly evicted: Record<EvictionReason, number> = { buffer_full: 0, ttl: 0, disk_low: 0, rejected: 0 };
  private readonly pageSize: number;
  private nextSeq = 1;
  private seqCeiling = 1;
  private depth = 0;
  private rejecting = false;
  private lastTtlCheck = Number.NEGATIVE_INFINITY;
  private lastDiskCheck = Number.NEGATIVE_INFINITY;
  private diskFree = Number.POSITIVE_INFINITY;
  private lastRollupFlush: number;
  private lastRollupPrune = Number.NEGATIVE_INFINITY;
  private rollupBytes = 0;
  /** Series ids of the readings of the append in progress, for the rollups after commit. */
  private scratch: number[] = [];
  private readonly stmt: {
    insert: Database.Statement<[number, number, number, number | null, number, number]>;
    insertSeries: Database.Statement<[string, string]>;
    getMeta: Database.Statement<[string], { value: string }>;
    setMeta: Database.Statement<[string, string]>;
    readAfter: Database.Statement<[number, number, number], Row>;
    readAfterRaw: Database.Statement<[number, number, number], unknown[]>;
    deleteRange: Database.Statement<[number, number]>;
    oldest: Database.Statement<[], { ts: number }>;
    usedPages: Database.Statement<[], { used: number; free: number }>;
    nthOldest: Database.Statement<[number], { seq: number }>;
    spanThrough: Database.Statement<[number], Span>;
    deleteThrough: Database.Statement<[number]>;
    firstYoung: Database.Statement<[number], { seq: number }>;
    spanExpired: Database.Statement<[number, number], Span>;
    deleteExpired: Database.Statement<[number, number]>;
    insertGap: Database.Statement<[number, number, number, number, number, number]>;
    lastGap: Database.Statement<[], GapRow>;
    deleteGap: Database.Statement<[number]>;
    pendingGaps: Database.Statement<[], GapRow>;
    countGaps: Database.Statement<[], { n: number }>;
    keepReportedGap: Database.Statement<[number, number]>;
    trimReportedGaps: Database.Statement<[number]>;
    recentGaps: Database.Statement<[number], GapRow & { reported: number }>;
    insertDeadLetter: Database.Statement<[number, string, string, Buffer, string]>;
    trimDeadLetters: Database.Statement<[number]>;
  };
  private readonly appendTx: (readings: readonly NewReading[], firstSeq: number, now: number) => Outcome;

  private constructor(
    db: Database.Database,
    file: string,
    options: ReadingBufferOptions,
    state: EdgeState | null,
    salvaged: Salvaged | null,
    recovered: RecoveredBuffer | null,
  ) {
    super();
    this.db = db;
    this.limits = {
      maxRows: options.maxRows ?? BUFFER_DEFAULTS.maxRows,
      maxBytes: options.maxBytes ?? BUFFER_DEFAULTS.maxBytes,
      ttlMs: options.ttlMs ?? BUFFER_DEFAULTS.ttlMs,
      minFreeBytes: options.minFreeBytes ?? BUFFER_DEFAULTS.minFreeBytes,
      policy: options.policy ?? BUFFER_DEFAULTS.policy,
      rollupDays: options.rollupDays ?? BUFFER_DEFAULTS.rollupDays,
    };
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.statfs = options.statfs ?? statfsSync;
    this.dir = dirname(file);
    this.statePath = options.statePath ?? join(this.dir, "edge-state.json");
    this.seqBlock = options.seqBlock ?? 100_000;
    this.lastRollupFlush = this.now();
    db.exec(SCHEMA);
    this.pageSize = db.pragma("page_size", { simple: true }) as number;
    this.stmt = {
      insert: db.prepare(
        "INSERT INTO readings (seq, series_id, ts, value, quality, clock_synced) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      insertSeries: db.prepare("INSERT INTO series (device_id, point) VALUES (?, ?)"),
      getMeta: db.prepare("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ),
      readAfter: db.prepare("SELECT * FROM readings WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?"),
      readAfterRaw: db
        .prepare<[number, number, number], unknown[]>(
          `SELECT seq, series_id, ts, value, quality, clock_synced FROM readings
           WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?`,
        )
        .raw(true),
      deleteRange: db.prepare("DELETE FROM readings WHERE seq BETWEEN ? AND ?"),
      oldest: db.prepare("SELECT ts FROM readings ORDER BY seq LIMIT 1"),
      usedPages: db.prepare(
        "SELECT (SELECT page_count FROM pragma_page_count()) AS used, (SELECT freelist_count FROM pragma_freelist_count()) AS free",
      ),
      nthOldest: db.prepare("SELECT seq FROM readings ORDER BY seq LIMIT 1 OFFSET ?"),
      spanThrough: db.prepare(
        `SELECT count(*) AS count, min(seq) AS first, max(seq) AS last, min(ts) AS fromTs, max(ts) AS toTs
         FROM readings WHERE seq <= ?`,
      ),
      deleteThrough: db.prepare("DELETE FROM readings WHERE seq <= ?"),
      // TTL walks from the lowest seq to the first young reading taken with a synchronised clock;
      // readings taken without one carry an unreliable ts and leave only by the budget.
      firstYoung: db.prepare("SELECT seq FROM readings WHERE ts >= ? AND clock_synced = 1 ORDER BY seq LIMIT 1"),
      spanExpired: db.prepare(
        `SELECT count(*) AS count, min(seq) AS first, max(seq) AS last, min(ts) AS fromTs, max(ts) AS toTs
         FROM readings WHERE seq < ? AND ts < ? AND clock_synced = 1`,
      ),
      deleteExpired: db.prepare("DELETE FROM readings WHERE seq < ? AND ts < ? AND clock_synced = 1"),
      insertGap: db.prepare(
        "INSERT INTO gaps (first_seq, last_seq, count, reason, from_ts, to_ts) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      lastGap: db.prepare(
        `SELECT id, first_seq AS firstSeq, last_seq AS lastSeq, count, reason, from_ts AS fromTs, to_ts AS toTs
         FROM gaps ORDER BY id DESC LIMIT 1`,
      ),
      deleteGap: db.prepare("DELETE FROM gaps WHERE id = ?"),
      pendingGaps: db.prepare(
        `SELECT id, first_seq AS firstSeq, last_seq AS lastSeq, count, reason, from_ts AS fromTs, to_ts AS toTs
         FROM gaps ORDER BY id`,
      ),
      countGaps: db.prepare("SELECT count(*) AS n FROM gaps"),
      keepReportedGap: db.prepare(
        `INSERT OR REPLACE INTO reported_gaps (id, first_seq, last_seq, count, reason, from_ts, to_ts, reported_at)
         SELECT id, first_seq, last_seq, count, reason, from_ts, to_ts, ? FROM gaps WHERE id = ?`,
      ),
      trimReportedGaps: db.prepare(
        "DELETE FROM reported_gaps WHERE id NOT IN (SELECT id FROM reported_gaps ORDER BY id DESC LIMIT ?)",
      ),
      recentGaps: db.prepare(
        `SELECT id, first_seq AS firstSeq, last_seq AS lastSeq, count, reason, from_ts AS fromTs, to_ts AS toTs, 0 AS reported
         FROM gaps
         UNION ALL
         SELECT id, first_seq, last_seq, count, reason, from_ts, to_ts, 1 FROM reported_gaps
         ORDER BY id DESC LIMIT ?`,
      ),
      insertDeadLetter: db.prepare(
        "INSERT INTO dead_letters (ts, source, topic, payload, error) VALUES (?, ?, ?, ?, ?)",
      ),
      trimDeadLetters: db.prepare("DELETE FROM dead_letters WHERE id <= ?"),
    };
    this.rollupStore = this.limits.rollupDays > 0 ? new Rollups(db) : null;
    this.rollupBytes = this.rollupStore?.bytes() ?? 0;

    const stored = this.meta("edge_id");
    const fresh = stored === undefined;
    this.identity = this.resolveIdentity(stored, state, salvaged, options.edgeId);
    this.loadState();
    this.depth = db.prepare("SELECT count(*) FROM readings").pluck().get() as number;
    for (const reason of EVICTION_REASONS) {
      this.evicted[reason] = Number(this.meta(`evicted_${reason}`) ?? salvaged?.evicted[reason] ?? 0);
    }
    // Every seq below the ceiling may have been handed out: a fresh file starts there.
    const ceiling = Math.max(state?.seqCeiling ?? 1, Number(this.meta("seq_ceiling") ?? 1), salvaged?.ceiling ?? 1);
    if (fresh) this.nextSeq = Math.max(this.nextSeq, ceiling);
    this.seqCeiling = Math.max(ceiling, this.nextSeq);
    let lost = recovered;
    if (fresh && !lost && state && state.seqCeiling > 1) {
      lost = { movedTo: null, at: this.now(), reason: "buffer file missing" };
      this.log?.error(
        { code: "EDGE_ERR_BUFFER_CORRUPT", file, nextSeq: this.nextSeq },
        "reading buffer file missing; started a fresh one, its unsent readings are lost",
      );
    }
    this.recovered = lost;
    db.transaction(() => {
      this.stmt.setMeta.run("edge_id", this.edgeId);
      if (options.edgeId !== undefined) this.stmt.setMeta.run("edge_id_certified", "1");
      this.stmt.setMeta.run("next_seq", String(this.nextSeq));
      this.stmt.setMeta.run("seq_ceiling", String(this.seqCeiling));
      if (fresh) for (const r of EVICTION_REASONS) this.stmt.setMeta.run(`evicted_${r}`, String(this.evicted[r]));
      if (lost && this.nextSeq > 1) {
        this.stmt.insertGap.run(1, this.nextSeq - 1, 0, GapReason.GAP_REASON_BUFFER_CORRUPT, 0, 0);
      }
    })();
    if (!state || state.edgeId !== this.edgeId || state.seqCeiling !== this.seqCeiling) {
      writeEdgeState(this.statePath, { edgeId: this.edgeId, seqCeiling: this.seqCeiling });
    }

    this.appendTx = db.transaction((readings: readonly NewReading[], firstSeq: number, now: number): Outcome => {
      const outcome: Outcome = { stored: 0, evicted: 0, gaps: [], counts: {} };
      if (now - this.lastTtlCheck >= TTL_CHECK_MS) this.evictExpired(now, outcome);
      const n = readings.length;
      const dropOldest = this.limits.policy === "drop-oldest";
      if (!dropOldest && this.overBudget(this.depth - outcome.evicted + n, n, now)) {
        let fromTs = Number.POSITIVE_INFINITY;
        let toTs = Number.NEGATIVE_INFINITY;
        for (const r of readings) {
          if (r.ts < fromTs) fromTs = r.ts;
          if (r.ts > toTs) toTs = r.ts;
        }
        this.recordGap("rejected", firstSeq, firstSeq + n - 1, n, fromTs, toTs, outcome);
      } else {
        const sids = this.scratch;
        sids.length = n;
        let seq = firstSeq;
        for (let i = 0; i < n; i++) {
          const r = readings[i] as NewReading;
          const sid = this.seriesId(r.deviceId, r.point);
          sids[i] = sid;
          this.stmt.insert.run(seq++, sid, r.ts, r.value, r.quality, r.clockSynced ? 1 : 0);
        }
        outcome.stored = n;
        // drop-oldest checks after inserting, so a commit larger than the room left evicts too
        // (its own oldest readings when it alone exceeds the budget).
        const full = dropOldest ? this.overBudget(this.depth - outcome.evicted + n, n, now) : null;
        if (full) this.evictOldest(full.reason, full.count, outcome);
      }
      this.stmt.setMeta.run("next_seq", String(firstSeq + readings.length));
      for (const [reason, n] of Object.entries(outcome.counts) as [EvictionReason, number][]) {
        this.stmt.setMeta.run(`evicted_${reason}`, String(this.evicted[reason] + n));
      }
      return outcome;
    });
  }

  /** Stable identity of this edge (kept in the state file and in the buffer). */
  get edgeId(): string {
    return this.identity;
  }

  /**
   * Whether the edge id was ever proven by a certificate (the buffer was opened with `edgeId`, or
   * adopted one). Until then it is a generated id that enrolling may replace.
   */
  get identityCertified(): boolean {
    return this.meta("edge_id_certified") === "1";
  }

  /**
   * Takes the id of the edge's first certificate (enrolment of an appliance that ran on a
   * generated id). Refused (`EDGE_ERR_TLS`) once the id came from a certificate. The caller stops
   * the forwarder first: buffered readings leave under the new id; seqs continue.
   */
  adoptEdgeId(edgeId: string): void {
    if (edgeId === this.identity) {
      this.stmt.setMeta.run("edge_id_certified", "1");
      return;
    }
    if (this.identityCertified) {
      throw new EdgeError(
        "EDGE_ERR_TLS",
        `this edge is ${this.identity} (from an earlier certificate); a certificate for ${edgeId} does not belong to it`,
      );
    }
    writeEdgeState(this.statePath, { edgeId, seqCeiling: this.seqCeiling });
    this.db.transaction(() => {
      this.stmt.setMeta.run("edge_id", edgeId);
      this.stmt.setMeta.run("edge_id_certified", "1");
    })();
    this.log?.info({ from: this.identity, to: edgeId }, "edge id taken from the installed certificate");
    this.identity = edgeId;
  }

  /**
   * Changes the budget and retention while running. Switching rollups on or off (`rollupDays`
   * from or to 0) needs a restart: then everything else is applied, `rollupDays` kept, and the
   * result is false.
   */
  updateLimits(next: BufferSettings): boolean {
    const toggles = next.rollupDays > 0 !== (this.rollupStore !== null);
    Object.assign(this.limits, next, toggles ? { rollupDays: this.limits.rollupDays } : {});
    // The next append checks TTL and free disk against the new settings.
    this.lastTtlCheck = Number.NEGATIVE_INFINITY;
    this.lastDiskCheck = Number.NEGATIVE_INFINITY;
    this.lastRollupPrune = Number.NEGATIVE_INFINITY;
    return !toggles;
  }

  /**
   * Opens (or creates) the buffer file. A file SQLite reports corrupt (at open or by
   * `quick_check`) is moved aside and replaced by a fresh buffer (see the class comment); other
   * failures throw `EDGE_ERR_BUFFER`.
   */
  static open(file: string, options: ReadingBufferOptions = {}): ReadingBuffer {
    const now = options.now ?? Date.now;
    const statePath = options.statePath ?? join(dirname(file), "edge-state.json");
    let state: EdgeState | null = null;
    try {
      state = readEdgeState(statePath);
    } catch (err) {
      options.log?.error({ err, file: statePath }, "edge state file unreadable; rebuilding it from the buffer");
    }
    let salvaged: Salvaged | null = null;
    let recovered: RecoveredBuffer | null = null;
    for (;;) {
      let db: Database.Database | undefined;
      try {
        db = new Database(file);
        db.pragma("journal_mode = WAL");
        db.pragma("synchronous = FULL");
        db.pragma("busy_timeout = 5000");
        if (recovered === null) {
          const problems = db.pragma("quick_check", { simple: false }) as { quick_check: string }[];
          if (problems.length !== 1 || problems[0]?.quick_check !== "ok") {
            throw new CorruptBufferError(
              `quick_check: ${problems
                .slice(0, 3)
                .map((p) => p.quick_check)
                .join("; ")}`,
            );
          }
          db.pragma("shrink_memory"); // the check read every page; give its cache back
        }
        return new ReadingBuffer(db, file, options, state, salvaged, recovered);
      } catch (err) {
        db?.close();
        if (recovered !== null || !isCorruption(err)) {
          if (err instanceof EdgeError) throw err;
          throw new EdgeError("EDGE_ERR_BUFFER", `cannot open reading buffer ${file}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        salvaged = salvage(file);
        const at = now();
        let movedTo: string;
        try {
          movedTo = moveAside(file, at);
        } catch (moveErr) {
          throw new EdgeError("EDGE_ERR_BUFFER", `reading buffer ${file} is corrupt and cannot be moved aside`, {
            cause: new AggregateError([err, moveErr]),
          });
        }
        const reason = `${(err as { code: string }).code}: ${(err as Error).message}`;
        recovered = { movedTo, at, reason };
        options.log?.error(
          { code: "EDGE_ERR_BUFFER_CORRUPT", err, file, movedTo },
          "reading buffer corrupt; moved aside and started a fresh one, its unsent readings are lost",
        );
      }
    }
  }

  /**
   * Commits readings in one transaction, assigning consecutive seqs; returns the range. Under
   * `reject-new` with the budget exhausted the seqs are assigned but the readings are not stored:
   * a `REJECTED` gap covers them instead.
   */
  append(readings: readonly NewReading[]): { firstSeq: number; lastSeq: number } {
    const firstSeq = this.nextSeq;
    const lastSeq = firstSeq + readings.length - 1;
    if (readings.length === 0) return { firstSeq, lastSeq };
    let outcome: Outcome;
    const now = this.now();
    try {
      this.reserve(lastSeq);
      outcome = this.appendTx(readings, firstSeq, now);
    } catch (err) {
      // The transaction rolled back: forget seqs and series it created, they were not persisted.
      this.loadState();
      throw new EdgeError("EDGE_ERR_BUFFER", `cannot commit ${readings.length} readings: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.nextSeq = lastSeq + 1;
    this.depth += outcome.stored - outcome.evicted;
    for (const [reason, n] of Object.entries(outcome.counts) as [EvictionReason, number][]) this.evicted[reason] += n;
    if (this.rollupStore && outcome.stored > 0) {
      for (let i = 0; i < readings.length; i++) {
        const r = readings[i] as NewReading;
        if (r.value !== null && Number.isFinite(r.value))
          this.rollupStore.add(this.scratch[i] as number, r.ts, r.value);
      }
    }
    this.noteRejecting(outcome.stored === 0, firstSeq);
    for (const gap of outcome.gaps) this.emit("gap", gap);
    if (outcome.stored > 0) this.emit("appended");
    this.maintainRollups(now);
    return { firstSeq, lastSeq };
  }

  /** Up to `limit` buffered readings with `afterSeq` < seq < `beforeSeq` (default: no upper bound), ascending. */
  readAfter(afterSeq: number, limit: number, beforeSeq = Number.MAX_SAFE_INTEGER): Reading[] {
    const rows = this.stmt.readAfter.all(afterSeq, beforeSeq, limit);
    return rows.map((row) => {
      const key = this.seriesKeys.get(row.series_id) as { deviceId: string; point: string };
      return {
        seq: row.seq,
        deviceId: key.deviceId,
        point: key.point,
        ts: row.ts,
        value: row.value,
        quality: row.quality as Quality,
        clockSynced: row.clock_synced === 1,
      };
    });
  }

  /**
   * The same readings as `readAfter`, as batch columns for the wire (no object per reading; the
   * forwarder's hot path). Null when there are none.
   */
  readColumnsAfter(afterSeq: number, limit: number, beforeSeq = Number.MAX_SAFE_INTEGER): BatchColumns | null {
    const rows = this.stmt.readAfterRaw.all(afterSeq, beforeSeq, limit) as number[][];
    if (rows.length === 0) return null;
    const n = rows.length;
    const cols = newColumns(n);
    const index = new Map<number, number>();
    for (let i = 0; i < n; i++) {
      const [seq, seriesId, ts, value, quality, synced] = rows[i] as [
        number,
        number,
        number,
        number | null,
        Quality,
        number,
      ];
      let s = index.get(seriesId);
      if (s === undefined) {
        s = cols.series.length;
        index.set(seriesId, s);
        cols.series.push(this.seriesKeys.get(seriesId) as { deviceId: string; point: string });
      }
      cols.seq[i] = seq;
      cols.seriesIndex[i] = s;
      cols.ts[i] = ts;
      cols.value[i] = value ?? Number.NaN;
      cols.quality[i] = quality;
      cols.clockSynced[i] = synced === 1;
    }
    return cols;
  }

  /** Removes the readings with seq in [first, last] (the hub committed them); returns how many. */
  delete(first: number, last: number): number {
    const removed = this.stmt.deleteRange.run(first, last).changes;
    this.depth -= removed;
    return removed;
  }

  /**
   * The hub has committed everything up to `seq`: drop those readings and make sure no seq
   * at or below it is handed out again (e.g. after the buffer file was lost).
   */
  deleteThrough(seq: number): number {
    const removed = this.delete(0, seq);
    this.liftNextSeq(seq);
    return removed;
  }

  /**
   * The hub already has (or recorded as a gap) every seq inside these inclusive ranges: drop the
   * buffered readings inside any of them, in one transaction, and never hand out a seq at or
   * below the highest range again. Returns how many readings were dropped.
   */
  deleteCovered(ranges: readonly { first: number; last: number }[]): number {
    if (ranges.length === 0) return 0;
    const removed = this.db.transaction(() => {
      let n = 0;
      for (const { first, last } of ranges) if (last >= first) n += this.stmt.deleteRange.run(first, last).changes;
      return n;
    })();
    this.depth -= removed;
    this.liftNextSeq(ranges.reduce((max, r) => Math.max(max, r.last), 0));
    return removed;
  }

  /** Gap records not yet acknowledged by the hub, oldest first. */
  pendingGaps(): GapRecord[] {
    return this.stmt.pendingGaps.all().map(toGap);
  }

  /** The hub stored these gap records: forget them. Unknown ids (e.g. a record that grew since) are ignored. */
  gapsReported(ids: readonly number[]): void {
    const now = this.now();
    this.db.transaction(() => {
      for (const id of ids) {
        this.stmt.keepReportedGap.run(now, id);
        this.stmt.deleteGap.run(id);
      }
      if (ids.length > 0) this.stmt.trimReportedGaps.run(REPORTED_GAPS_KEPT);
    })();
  }

  /** The newest gap records, pending and already reported (the newest 1000 of those are kept), newest first. */
  recentGaps(limit = 50): (GapRecord & { reported: boolean })[] {
    return this.stmt.recentGaps.all(limit).map(({ reported, ...row }) => ({ ...toGap(row), reported: reported === 1 }));
  }

  /**
   * 1-minute or 15-minute rollups (count, avg, min, max, last) of one series with bucket start in
   * [from, to), computed when the readings were appended (acknowledged readings still count).
   */
  rollups(query: { deviceId: string; point: string; period: RollupPeriod; from: number; to: number }): RollupPoint[] {
    const id = this.seriesIds.get(query.deviceId)?.get(query.point);
    if (id === undefined || this.rollupStore === null) return [];
    return this.rollupStore.query(id, query.period, query.from, query.to);
  }

  /** Keeps a message that could not be decoded, with its raw payload (the newest 10,000 are kept). */
  deadLetter(entry: DeadLetter): void {
    const id = this.stmt.insertDeadLetter.run(
      entry.ts,
      entry.source,
      entry.topic,
      entry.payload,
      entry.error,
    ).lastInsertRowid;
    if (Number(id) % 100 === 0) this.stmt.trimDeadLetters.run(Number(id) - DEAD_LETTERS_KEPT);
  }

  /** The newest dead letters, newest first. */
  deadLetters(limit = 100): DeadLetter[] {
    return this.db
      .prepare("SELECT ts, source, topic, payload, error FROM dead_letters ORDER BY id DESC LIMIT ?")
      .all(limit) as DeadLetter[];
  }

  /** Depth, oldest reading, next seq, size, limits, eviction counts, pending gaps, recovery (no full scans). */
  stats(): BufferStats {
    return {
      depth: this.depth,
      oldestTs: this.stmt.oldest.get()?.ts ?? null,
      nextSeq: this.nextSeq,
      bytes: this.usedBytes().used,
      rollupBytes: this.rollupBytes,
      limits: { ...this.limits },
      evicted: { ...this.evicted },
      pendingGaps: (this.stmt.countGaps.get() as { n: number }).n,
      recovered: this.recovered,
    };
  }

  /** Writes the rollups still in memory and closes the file (checkpointing the WAL). */
  close(): void {
    if (!this.db.open) return;
    try {
      this.rollupStore?.flush(this.now(), true);
    } catch (err) {
      this.log?.error({ err }, "rollups could not be written at close");
    }
    this.db.close();
  }

  /** Makes sure every seq up to `seq` is below the reservation ceiling persisted in the state file. */
  private reserve(seq: number): void {
    if (seq < this.seqCeiling) return;
    const ceiling = seq + 1 + this.seqBlock;
    writeEdgeState(this.statePath, { edgeId: this.edgeId, seqCeiling: ceiling });
    this.seqCeiling = ceiling;
    this.stmt.setMeta.run("seq_ceiling", String(ceiling));
  }

  /** Never hand out `seq` or anything below it again. */
  private liftNextSeq(seq: number): void {
    if (seq < this.nextSeq) return;
    this.reserve(seq);
    this.nextSeq = seq + 1;
    this.stmt.setMeta.run("next_seq", String(this.nextSeq));
  }

  private meta(key: string): string | undefined {
    return this.stmt.getMeta.get(key)?.value;
  }

  /**
   * The state file names the edge; a buffer without one brings its own (older versions); else
   * the required id (from the certificate) or a new random one.
   */
  private resolveIdentity(
    stored: string | undefined,
    state: EdgeState | null,
    salvaged: Salvaged | null,
    required: string | undefined,
  ): string {
    const known = state?.edgeId ?? stored ?? salvaged?.edgeId;
    if (required !== undefined && known !== undefined && known !== required) {
      throw new EdgeError(
        "EDGE_ERR_TLS",
        `the data directory belongs to edge ${known} but the certificate names ${required}: issue the certificate for ${known}, or start with an empty data directory`,
      );
    }
    const edgeId = known ?? required ?? `edge-${randomBytes(6).toString("hex")}`;
    if (stored !== undefined && stored !== edgeId) {
      this.log?.warn({ buffer: stored, state: edgeId }, "buffer belongs to another edge id; the state file wins");
    }
    return edgeId;
  }

  /** (Re)reads the seq high-water mark and the series dictionary from the file. */
  private loadState(): void {
    const stored = this.meta("next_seq");
    const maxSeq = (this.db.prepare("SELECT max(seq) FROM readings").pluck().get() as number | null) ?? 0;
    this.nextSeq = Math.max(Number(stored ?? 1), maxSeq + 1);
    this.seriesIds.clear();
    this.seriesKeys.clear();
    const rows = this.db.prepare("SELECT id, device_id, point FROM series").all() as {
      id: number;
      device_id: string;
      point: string;
    }[];
    for (const row of rows) this.rememberSeries(row.id, row.device_id, row.point);
  }

  private usedBytes(): { used: number; free: number } {
    const pages = this.stmt.usedPages.get() as { used: number; free: number };
    return { used: (pages.used - pages.free) * this.pageSize, free: pages.free * this.pageSize };
  }

  /**
   * Whether a buffer of `rows` readings is over its budget (rows, bytes in use without the
   * rollups, which `rollupDays` bounds instead) or, under the disk
   * guard, has too few free pages left for a commit of `commit` readings; if so, the reason and
   * how many of the oldest readings to evict to get back to 95 % of the budget.
   */
  private overBudget(rows: number, commit: number, now: number): { reason: EvictionReason; count: number } | null {
    const { maxRows, maxBytes, minFreeBytes } = this.limits;
    let full = 0;
    if (rows > maxRows) full = rows - Math.floor(maxRows * EVICT_TO);
    const bytes = this.usedBytes();
    const used = bytes.used - this.rollupBytes;
    if (used > maxBytes && rows > 0) {
      full = Math.max(full, Math.ceil(rows * (1 - (maxBytes * EVICT_TO) / used)));
    }
    let low = 0;
    if (minFreeBytes > 0) {
      if (now - this.lastDiskCheck >= DISK_CHECK_MS) {
        this.lastDiskCheck = now;
        const fs = this.statfs(this.dir);
        this.diskFree = Number(fs.bavail) * Number(fs.bsize);
      }
      // Deleting rows does not shrink the file, it frees pages for reuse: under the guard the
      // file must not grow, so evict when the free pages cannot take a commit, enough for a few
      // more (5 % of the readings, at least a commit plus two pages' worth).
      const perRow = rows > 0 ? Math.max(1, used / rows) : this.pageSize;
      if (this.diskFree < minFreeBytes && bytes.free < commit * perRow) {
        low = Math.max(Math.ceil(rows * (1 - EVICT_TO)), commit + Math.ceil((2 * this.pageSize) / perRow));
      }
    }
    if (full === 0 && low === 0) return null;
    return full >= low
      ? { reason: "buffer_full", count: Math.min(full, rows) }
      : { reason: "disk_low", count: Math.min(low, rows) };
  }

  /** Evicts the `count` readings with the lowest seqs and records the gap. */
  private evictOldest(reason: EvictionReason, count: number, outcome: Outcome): void {
    if (count <= 0) return;
    const boundary = this.stmt.nthOldest.get(count - 1)?.seq;
    if (boundary === undefined) return;
    const span = this.stmt.spanThrough.get(boundary) as Span;
    this.stmt.deleteThrough.run(boundary);
    this.recordSpan(reason, span, outcome);
  }

  /** Evicts the readings older than the TTL (see the `firstYoung` statement) and records the gap. */
  private evictExpired(now: number, outcome: Outcome): void {
    this.lastTtlCheck = now;
    const cutoff = now - this.limits.ttlMs;
    const stop = this.stmt.firstYoung.get(cutoff)?.seq ?? Number.MAX_SAFE_INTEGER;
    const span = this.stmt.spanExpired.get(stop, cutoff) as Span;
    if (span.count === 0) return;
    this.stmt.deleteExpired.run(stop, cutoff);
    this.recordSpan("ttl", span, outcome);
  }

  private recordSpan(reason: EvictionReason, span: Span, outcome: Outcome): void {
    if (span.count === 0) return;
    outcome.evicted += span.count;
    this.recordGap(
      reason,
      span.first as number,
      span.last as number,
      span.count,
      span.fromTs as number,
      span.toTs as number,
      outcome,
    );
    const level = reason === "ttl" ? "info" : "warn";
    this.log?.[level](
      { reason, count: span.count, firstSeq: span.first, lastSeq: span.last },
      "buffer evicted its oldest readings",
    );
  }

  /**
   * Writes a gap record; one contiguous with the newest pending record of the same reason is
   * merged into it (a new record with a new id replaces it, so an in-flight report of the old id
   * cannot acknowledge seqs it did not carry).
   */
  private recordGap(
    reason: EvictionReason,
    first: number,
    last: number,
    count: number,
    fromTs: number,
    toTs: number,
    outcome: Outcome,
  ): void {
    const code = REASONS[reason];
    outcome.counts[reason] = (outcome.counts[reason] ?? 0) + count;
    const prev = this.stmt.lastGap.get();
    if (prev && prev.reason === code && prev.lastSeq + 1 === first) {
      this.stmt.deleteGap.run(prev.id);
      outcome.gaps = outcome.gaps.filter((g) => g.id !== prev.id);
      first = prev.firstSeq;
      count += prev.count;
      fromTs = Math.min(fromTs, prev.fromTs);
      toTs = Math.max(toTs, prev.toTs);
    }
    const id = Number(this.stmt.insertGap.run(first, last, count, code, fromTs, toTs).lastInsertRowid);
    outcome.gaps.push({ id, firstSeq: first, lastSeq: last, count, reason: code, fromTs, toTs });
  }

  /** Logs once when `reject-new` starts and once when it stops dropping new readings. */
  private noteRejecting(rejected: boolean, seq: number): void {
    if (rejected === this.rejecting) return;
    this.rejecting = rejected;
    if (rejected) this.log?.warn({ seq }, "buffer full: new readings are rejected (policy reject-new)");
    else this.log?.info({ seq }, "buffer accepts new readings again");
  }

  /** Flushes closed rollup buckets (every few seconds) and prunes old ones (hourly). */
  private maintainRollups(now: number): void {
    if (!this.rollupStore || now - this.lastRollupFlush < ROLLUP_FLUSH_MS) return;
    this.lastRollupFlush = now;
    try {
      this.rollupStore.flush(now);
      if (now - this.lastRollupPrune >= ROLLUP_PRUNE_MS) {
        this.lastRollupPrune = now;
        this.rollupStore.pruneBefore(now - this.limits.rollupDays * 86_400_000, this.seriesKeys.keys());
        this.rollupBytes = this.rollupStore.bytes();
      }
    } catch (err) {
      this.log?.error({ err }, "rollups could not be written; kept in memory for the next attempt");
    }
  }

  private seriesId(deviceId: string, point: string): number {
    const id = this.seriesIds.get(deviceId)?.get(point);
    if (id !== undefined) return id;
    const created = Number(this.stmt.insertSeries.run(deviceId, point).lastInsertRowid);
    this.rememberSeries(created, deviceId, point);
    return created;
  }

  private rememberSeries(id: number, deviceId: string, point: string): void {
    let points = this.seriesIds.get(deviceId);
    if (!points) {
      points = new Map();
      this.seriesIds.set(deviceId, points);
    }
    points.set(point, id);
    this.seriesKeys.set(id, { deviceId, point });
  }
}

const toGap = (row: GapRow): GapRecord => ({ ...row, reason: row.reason as GapReason });
