import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Quality, Reading } from "@steinmetz/proto";
import Database from "better-sqlite3";
import { EdgeError } from "../errors.js";

/** A reading before the buffer has given it a seq. */
export type NewReading = Omit<Reading, "seq">;

/** Buffer depth and position, for status pages and metrics. */
export interface BufferStats {
  /** Readings stored and not yet acknowledged by the hub. */
  depth: number;
  /** Acquisition time of the oldest buffered reading (ms), null when empty. */
  oldestTs: number | null;
  /** The seq the next committed reading gets. */
  nextSeq: number;
}

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
`;

/** A message that could not be turned into readings, kept with its raw payload. */
export interface DeadLetter {
  ts: number;
  /** Device or connection it came from. */
  source: string;
  topic: string;
  payload: Buffer;
  error: string;
}

/** Dead letters kept; older ones are dropped. */
const DEAD_LETTERS_KEPT = 10_000;

/**
 * The edge's store-and-forward buffer: one SQLite file in WAL mode.
 *
 * Every `append` is one transaction that gives each reading the next seq and persists the
 * high-water mark with it, so a seq is never handed out twice, across crashes and restarts.
 * Durability: `synchronous=FULL`, so a committed reading survives a power cut too; commits are
 * batched (one per poll cycle, not per reading), which keeps the writes an SD card sees low.
 * Rows leave only through `delete`/`deleteThrough`, called after the hub acknowledged them.
 *
 * Emits `appended` after each commit.
 */
export class ReadingBuffer extends EventEmitter<{ appended: [] }> {
  /** Stable identity of this edge, created with the buffer and kept in it. */
  readonly edgeId: string;
  private readonly db: Database.Database;
  private readonly seriesIds = new Map<string, number>();
  private readonly seriesKeys = new Map<number, { deviceId: string; point: string }>();
  private nextSeq: number;
  private readonly stmt: {
    insert: Database.Statement<[number, number, number, number | null, number, number]>;
    insertSeries: Database.Statement<[string, string]>;
    setMeta: Database.Statement<[string, string]>;
    readAfter: Database.Statement<[number, number]>;
    deleteRange: Database.Statement<[number, number]>;
    stats: Database.Statement<[]>;
    insertDeadLetter: Database.Statement<[number, string, string, Buffer, string]>;
    trimDeadLetters: Database.Statement<[number]>;
  };
  private readonly appendTx: (readings: readonly NewReading[]) => { firstSeq: number; lastSeq: number };

  private constructor(db: Database.Database) {
    super();
    this.db = db;
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("busy_timeout = 5000");
    db.exec(SCHEMA);
    const getMeta = db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?");
    const setMeta = db.prepare<[string, string]>(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    );
    let edgeId = getMeta.get("edge_id")?.value;
    if (!edgeId) {
      edgeId = `edge-${randomBytes(6).toString("hex")}`;
      setMeta.run("edge_id", edgeId);
    }
    this.edgeId = edgeId;
    this.nextSeq = 1;
    this.loadState();
    this.stmt = {
      insert: db.prepare(
        "INSERT INTO readings (seq, series_id, ts, value, quality, clock_synced) VALUES (?, ?, ?, ?, ?, ?)",
      ),
      insertSeries: db.prepare("INSERT INTO series (device_id, point) VALUES (?, ?)"),
      setMeta,
      readAfter: db.prepare("SELECT * FROM readings WHERE seq > ? ORDER BY seq LIMIT ?"),
      deleteRange: db.prepare("DELETE FROM readings WHERE seq BETWEEN ? AND ?"),
      stats: db.prepare("SELECT count(*) AS depth, min(ts) AS oldest FROM readings"),
      insertDeadLetter: db.prepare(
        "INSERT INTO dead_letters (ts, source, topic, payload, error) VALUES (?, ?, ?, ?, ?)",
      ),
      trimDeadLetters: db.prepare("DELETE FROM dead_letters WHERE id <= ?"),
    };
    this.appendTx = db.transaction((readings: readonly NewReading[]) => {
      const firstSeq = this.nextSeq;
      let seq = firstSeq;
      for (const r of readings) {
        this.stmt.insert.run(seq, this.seriesId(r.deviceId, r.point), r.ts, r.value, r.quality, r.clockSynced ? 1 : 0);
        seq++;
      }
      this.stmt.setMeta.run("next_seq", String(seq));
      return { firstSeq, lastSeq: seq - 1 };
    });
  }

  /** Opens (or creates) the buffer file. */
  static open(file: string): ReadingBuffer {
    try {
      return new ReadingBuffer(new Database(file));
    } catch (err) {
      throw new EdgeError("EDGE_ERR_BUFFER", `cannot open reading buffer ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Commits readings in one transaction, assigning consecutive seqs; returns the range. */
  append(readings: readonly NewReading[]): { firstSeq: number; lastSeq: number } {
    if (readings.length === 0) return { firstSeq: this.nextSeq, lastSeq: this.nextSeq - 1 };
    let range: { firstSeq: number; lastSeq: number };
    try {
      range = this.appendTx(readings);
    } catch (err) {
      // The transaction rolled back: forget seqs and series it created, they were not persisted.
      this.loadState();
      throw new EdgeError("EDGE_ERR_BUFFER", `cannot commit ${readings.length} readings: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.nextSeq = range.lastSeq + 1;
    this.emit("appended");
    return range;
  }

  /** Up to `limit` buffered readings with seq > `afterSeq`, ascending. */
  readAfter(afterSeq: number, limit: number): Reading[] {
    const rows = this.stmt.readAfter.all(afterSeq, limit) as {
      seq: number;
      series_id: number;
      ts: number;
      value: number | null;
      quality: number;
      clock_synced: number;
    }[];
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

  /** Removes the readings with seq in [first, last] (the hub committed them); returns how many. */
  delete(first: number, last: number): number {
    return this.stmt.deleteRange.run(first, last).changes;
  }

  /**
   * The hub has committed everything up to `seq`: drop those readings and make sure no seq
   * at or below it is handed out again (e.g. after the buffer file was lost).
   */
  deleteThrough(seq: number): number {
    const removed = this.delete(0, seq);
    if (seq >= this.nextSeq) {
      this.nextSeq = seq + 1;
      this.stmt.setMeta.run("next_seq", String(this.nextSeq));
    }
    return removed;
  }

  /** Keeps a message that could not be decoded, with its raw payload (the newest 10,000 are kept). */
  deadLetter(entry: DeadLetter): void {
    const id = this.db
      .prepare("INSERT INTO dead_letters (ts, source, topic, payload, error) VALUES (?, ?, ?, ?, ?)")
      .run(entry.ts, entry.source, entry.topic, entry.payload, entry.error).lastInsertRowid;
    if (Number(id) % 100 === 0)
      this.db.prepare("DELETE FROM dead_letters WHERE id <= ?").run(Number(id) - DEAD_LETTERS_KEPT);
  }

  /** The newest dead letters, newest first. */
  deadLetters(limit = 100): DeadLetter[] {
    return this.db
      .prepare("SELECT ts, source, topic, payload, error FROM dead_letters ORDER BY id DESC LIMIT ?")
      .all(limit) as DeadLetter[];
  }

  /** Depth, oldest reading and next seq. */
  stats(): BufferStats {
    const row = this.stmt.stats.get() as { depth: number; oldest: number | null };
    return { depth: row.depth, oldestTs: row.oldest, nextSeq: this.nextSeq };
  }

  /** Closes the file (checkpointing the WAL). */
  close(): void {
    this.db.close();
  }

  /** (Re)reads the seq high-water mark and the series dictionary from the file. */
  private loadState(): void {
    const stored = this.db.prepare("SELECT value FROM meta WHERE key = 'next_seq'").pluck().get() as string | undefined;
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

  private seriesId(deviceId: string, point: string): number {
    const id = this.seriesIds.get(`${deviceId}\u0000${point}`);
    if (id !== undefined) return id;
    const created = Number(this.stmt.insertSeries.run(deviceId, point).lastInsertRowid);
    this.rememberSeries(created, deviceId, point);
    return created;
  }

  private rememberSeries(id: number, deviceId: string, point: string): void {
    this.seriesIds.set(`${deviceId}\u0000${point}`, id);
    this.seriesKeys.set(id, { deviceId, point });
  }
}
