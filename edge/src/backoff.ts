import { ExponentialBackoff, type IBackoff } from "cockatiel";

/**
 * Exponential backoff with decorrelated jitter (cockatiel's generator), as state:
 * `failed()` says how long to wait before the next attempt, `succeeded()` starts over.
 * Jitter keeps a fleet of edges, or the devices on one bus, from retrying in lockstep.
 */
export class Backoff {
  private current: IBackoff<unknown> | undefined;
  private readonly factory: ExponentialBackoff<unknown>;

  constructor(options: { initialDelayMs?: number; maxDelayMs?: number } = {}) {
    this.factory = new ExponentialBackoff({
      initialDelay: options.initialDelayMs ?? 500,
      maxDelay: options.maxDelayMs ?? 30_000,
    });
  }

  /** Records a failure and returns the delay in ms before the next attempt. */
  failed(): number {
    this.current = this.current ? this.current.next(undefined) : this.factory.next();
    return this.current.duration;
  }

  /** Records a success: the next failure waits the initial delay again. */
  succeeded(): void {
    this.current = undefined;
  }
}
