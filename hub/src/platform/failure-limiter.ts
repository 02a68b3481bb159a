import { createHash } from "node:crypto";
import type { Queryable } from "../db/queryable.js";

/**
 * Counts failed attempts per key (a client address, an e-mail) in a sliding window: after
 * `maxFailures` within `windowMs` the key must wait until its oldest counted failure leaves the
 * window. Successes do not clear failures.
 */
export interface FailureLimiter {
  /** Seconds `key` must wait before its next attempt; 0 when it may try now. */
  retryAfterS(key: string): Promise<number>;
  /** Counts a failed attempt of `key`. */
  failed(key: string): Promise<void>;
}

/** How many failures within which window. */
export interface FailureLimit {
  maxFailures: number;
  windowMs: number;
}

/** How long failed attempts are kept in PostgreSQL: the longest window a SharedFailureLimiter may have. */
const KEPT_MS = 3_600_000;

/** Keys tracked at most by a MemoryFailureLimiter; the least recently failed is forgotten first. */
const MAX_TRACKED = 10_000;

/** A FailureLimiter kept in this process's memory (for routes that run without the database). */
export class MemoryFailureLimiter implements FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: FailureLimit,
    private readonly now: () => number = Date.now,
  ) {}

  async retryAfterS(key: string): Promise<number> {
    const times = this.recent(key);
    if (times.length < this.limit.maxFailures) return 0;
    const oldest = times[times.length - this.limit.maxFailures] as number;
    return Math.max(1, Math.ceil((oldest + this.limit.windowMs - this.now()) / 1000));
  }

  async failed(key: string): Promise<void> {
    const times = [...this.recent(key), this.now()].slice(-this.limit.maxFailures);
    this.failures.delete(key);
    this.failures.set(key, times);
    if (this.failures.size > MAX_TRACKED) this.failures.delete(this.failures.keys().next().value as string);
  }

  private recent(key: string): number[] {
    const since = this.now() - this.limit.windowMs;
    const times = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (times.length === 0) this.failures.delete(key);
    return times;
  }
}

/**
 * A FailureLimiter in PostgreSQL (auth.failed_attempts, migration 0009), shared by every hub
 * process on the database and surviving restarts. Times are the database's clock. `scope` keeps
 * limiters of different purposes apart; keys are stored hashed.
 */
export class SharedFailureLimiter implements FailureLimiter {
  constructor(
    private readonly db: Queryable,
    private readonly scope: string,
    private readonly limit: FailureLimit,
  ) {
    if (limit.windowMs > KEPT_MS) throw new RangeError(`a failure window may last at most ${KEPT_MS} ms`);
  }

  async retryAfterS(key: string): Promise<number> {
    // the maxFailures-th most recent failure within the window: the key waits until it leaves
    const { rows } = await this.db.query<{ wait_ms: number }>(
      `SELECT extract(epoch FROM at - clock_timestamp()) * 1000 + $3 AS wait_ms FROM auth.failed_attempts
       WHERE scope = $1 AND key_hash = $2 AND at > clock_timestamp() - make_interval(secs => $3 / 1000.0)
       ORDER BY at DESC OFFSET $4 LIMIT 1`,
      [this.scope, hashOf(key), this.limit.windowMs, this.limit.maxFailures - 1],
    );
    const waitMs = rows[0]?.wait_ms;
    return waitMs === undefined ? 0 : Math.max(1, Math.ceil(Number(waitMs) / 1000));
  }

  async failed(key: string): Promise<void> {
    await this.db.query("INSERT INTO auth.failed_attempts (scope, key_hash) VALUES ($1, $2)", [
      this.scope,
      hashOf(key),
    ]);
  }
}

/** Deletes failed attempts older than `olderThanMs` (by default: older than any window); returns how many. */
export async function purgeFailedAttempts(db: Queryable, olderThanMs = KEPT_MS): Promise<number> {
  const { rowCount } = await db.query(
    "DELETE FROM auth.failed_attempts WHERE at < clock_timestamp() - make_interval(secs => $1 / 1000.0)",
    [olderThanMs],
  );
  return rowCount ?? 0;
}

const hashOf = (key: string): Buffer => createHash("sha256").update(key).digest();
