/** Simulated time, shared by every simulated device of one site so their readings agree. */
export interface SimClock {
  /** Simulated seconds per real second. */
  readonly speed: number;
  /** Simulated time in ms since the epoch. */
  now(): number;
}

/** Options of `simClock`. */
export interface SimClockOptions {
  /** Simulated seconds per real second (1 = real time; 60 = a day in 24 minutes). */
  speed?: number;
  /** Wall clock in ms; injected by tests. */
  now?: () => number;
}

/**
 * A clock that runs `speed` times faster than the wall clock, anchored at the real time of its
 * creation: at start it reads the real time, then it runs ahead. Deterministic with an injected
 * `now`.
 */
export function simClock(options: SimClockOptions = {}): SimClock {
  const speed = options.speed ?? 1;
  const real = options.now ?? Date.now;
  const start = real();
  return { speed, now: () => start + (real() - start) * speed };
}
