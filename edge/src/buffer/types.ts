import type { StatsFs } from "node:fs";
import type { GapReason, Reading } from "@steinmetz/proto";
import type { Logger } from "pino";

/** The buffer's public types: its settings, what it reports, what it keeps. */

/** A reading before the buffer has given it a seq. */
export type NewReading = Omit<Reading, "seq">;

/** What the buffer does when a commit does not fit its budget. */
export type BufferPolicy = "drop-oldest" | "reject-new";

/** Why readings were given up; the label of `stats().evicted` and of the metric. */
export type EvictionReason = "buffer_full" | "ttl" | "disk_low" | "rejected";

/** The buffer's budget and retention settings (the site file's `buffer:` section). */
export interface BufferSettings {
  /** Readings kept at most (default 10,000,000). */
  maxRows: number;
  /**
   * Bytes of the database file in use, (page_count - freelist_count) * page_size, not counting
   * the rollups, which `rollupDays` bounds (default 2 GiB).
   */
  maxBytes: number;
  /** Readings older than this (by acquisition time, synchronised clock) are evicted (default 30 days). */
  ttlMs: number;
  /** Free space on the buffer's file system below which the file must not grow (default 100 MiB). */
  minFreeBytes: number;
  /** `drop-oldest` (default) evicts the oldest readings; `reject-new` keeps them and drops new ones. */
  policy: BufferPolicy;
  /** Days of 1-minute and 15-minute rollups kept (default 35; 0 turns rollups off). */
  rollupDays: number;
}

/** The defaults of `BufferSettings`. */
export const BUFFER_DEFAULTS: Readonly<BufferSettings> = {
  maxRows: 10_000_000,
  maxBytes: 2 * 1024 ** 3,
  ttlMs: 30 * 86_400_000,
  minFreeBytes: 100 * 1024 ** 2,
  policy: "drop-oldest",
  rollupDays: 35,
};

/** Options of `ReadingBuffer.open`: the settings plus what tests and the agent inject. */
export interface ReadingBufferOptions extends Partial<BufferSettings> {
  /** Errors (a corrupt buffer moved aside), evictions and policy transitions are logged here. */
  log?: Logger;
  /** The clock (ms since epoch) for TTL, rollups and the check intervals; default `Date.now`. */
  now?: () => number;
  /** Free space of the file system holding `dir`; default `fs.statfsSync`. */
  statfs?: (dir: string) => Pick<StatsFs, "bavail" | "bsize">;
  /** The identity and seq-reservation file; default `edge-state.json` beside the buffer. */
  statePath?: string;
  /** Seqs reserved per write of the state file (default 100,000). */
  seqBlock?: number;
  /**
   * The identity the edge must have (its certificate's CN). A new data directory takes it; one
   * that already belongs to another edge id is refused (EDGE_ERR_TLS), since its seqs and
   * readings are that edge's.
   */
  edgeId?: string;
}

/** A buffer file found corrupt (or missing) at open and replaced by a fresh one. */
export interface RecoveredBuffer {
  /** Where the corrupt file (and its -wal/-shm, with those suffixes) was moved; null when it was missing. */
  movedTo: string | null;
  /** When it happened (ms since epoch). */
  at: number;
  reason: string;
}

/** A seq range the buffer gave up and has not yet reported to the hub (proto `Gap`). */
export interface GapRecord {
  /** Local id; a record that grows (contiguous rejections or evictions) gets a new id. */
  id: number;
  firstSeq: number;
  lastSeq: number;
  /** Readings given up inside the range; 0 means unknown (a lost or corrupt buffer). */
  count: number;
  reason: GapReason;
  /** Acquisition time range of the readings given up; 0 when unknown. */
  fromTs: number;
  toTs: number;
}

/** Buffer depth and position, for status pages and metrics. */
export interface BufferStats {
  /** Readings stored and not yet acknowledged by the hub. */
  depth: number;
  /** Acquisition time of the oldest buffered reading (the lowest seq) in ms, null when empty. */
  oldestTs: number | null;
  /** The seq the next committed reading gets. */
  nextSeq: number;
  /** Bytes of the database file in use (pages in use times page size), rollups included. */
  bytes: number;
  /** Of `bytes`, what the rollups take (measured at open and hourly); the rest counts against `maxBytes`. */
  rollupBytes: number;
  limits: BufferSettings;
  /** Readings given up since the buffer was created, by reason (kept across restarts). */
  evicted: Record<EvictionReason, number>;
  /** Gap records not yet reported to the hub. */
  pendingGaps: number;
  /** Set when this process found the buffer corrupt or missing and started a fresh one. */
  recovered: RecoveredBuffer | null;
}

/** A message that could not be turned into readings, kept with its raw payload. */
export interface DeadLetter {
  ts: number;
  /** Device or connection it came from. */
  source: string;
  topic: string;
  payload: Buffer;
  error: string;
}
