/** Keys (client addresses) tracked at most; the least recently failed is forgotten first. */
const MAX_TRACKED = 10_000;

/**
 * Counts failed attempts per key (a client address) in a sliding window: after `maxFailures`
 * within `windowMs` the key must wait until its oldest counted failure leaves the window. Kept in
 * memory, per hub process. Successes do not clear failures.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly options: { maxFailures: number; windowMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds `key` must wait before its next attempt; 0 when it may try now. */
  retryAfterS(key: string): number {
    const times = this.recent(key);
    if (times.length < this.options.maxFailures) return 0;
    const oldest = times[times.length - this.options.maxFailures] as number;
    return Math.max(1, Math.ceil((oldest + this.options.windowMs - this.now()) / 1000));
  }

  /** Counts a failed attempt of `key`. */
  failed(key: string): void {
    const times = [...this.recent(key), this.now()].slice(-this.options.maxFailures);
    this.failures.delete(key);
    this.failures.set(key, times);
    if (this.failures.size > MAX_TRACKED) this.failures.delete(this.failures.keys().next().value as string);
  }

  private recent(key: string): number[] {
    const since = this.now() - this.options.windowMs;
    const times = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (times.length === 0) this.failures.delete(key);
    return times;
  }
}
