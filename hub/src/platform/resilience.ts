import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead,
  type CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  fullJitterGenerator,
  handleAll,
  handleWhen,
  type IPolicy,
  IsolatedCircuitError,
  noop,
  retry,
  TaskCancelledError,
  TimeoutStrategy,
  timeout,
  wrap,
} from "cockatiel";
import { Gauge, type Registry } from "prom-client";
import { hubError } from "../errors.js";

/**
 * The hub's one resilience module (cockatiel): every call to an external system goes through the
 * policy of that system, `registry.policy(name)`: a bulkhead (optional) around retries with
 * exponential backoff and full jitter, around a circuit breaker (one per system, opening after
 * consecutive failures and letting exactly one trial call through when half-open), around a
 * timeout per attempt. Breaker states are listed for /health and exported as a metric.
 */

/** Tuning of one system's policy. */
export interface PolicyOptions {
  /** Retries after the first attempt (default 3; 0 = none). */
  retries?: number;
  /** First backoff ceiling (default 100 ms); doubles per retry up to `maxDelayMs` (10 s); full jitter. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Consecutive failures that open the breaker (default 5). */
  breakerThreshold?: number;
  /** How long the breaker stays open before one trial call (default 30 s). */
  halfOpenAfterMs?: number;
  /** Time limit of one attempt (default 10 s; 0 = none). The attempt's AbortSignal is aborted. */
  timeoutMs?: number;
  /** Concurrent executions (and queued ones) allowed; unset = no bulkhead. */
  bulkhead?: { limit: number; queue?: number };
  /** Which failures to retry (default: all). Open-breaker and bulkhead refusals are never retried. */
  retryable?: (err: Error) => boolean;
}

/** A breaker's state as /health shows it. */
export type BreakerState = "closed" | "open" | "half-open" | "isolated";

const STATE_NAMES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "isolated",
};

/** A system's policy: run `fn` through it. Refusals by an open breaker become HUB_ERR_CIRCUIT_OPEN. */
export interface ResiliencePolicy {
  readonly name: string;
  readonly breaker: CircuitBreakerPolicy;
  execute<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

/** Breaker states by name, and the policies that own them. */
export class ResilienceRegistry {
  private readonly policies = new Map<string, ResiliencePolicy>();
  private readonly since = new Map<string, Date>();

  /** With a Prometheus registry, exports `hub_circuit_breaker_state{name}` (0 closed, 1 open, 2 half-open, 3 isolated). */
  constructor(metrics?: Registry) {
    if (metrics) {
      const policies = this.policies;
      new Gauge({
        name: "hub_circuit_breaker_state",
        help: "Circuit breaker state per external system: 0 closed, 1 open, 2 half-open, 3 isolated",
        labelNames: ["name"],
        registers: [metrics],
        collect() {
          for (const p of policies.values()) this.set({ name: p.name }, p.breaker.state);
        },
      });
    }
  }

  /** The policy of system `name`, created with `options` on first use (later calls share it). */
  policy(name: string, options: PolicyOptions = {}): ResiliencePolicy {
    const existing = this.policies.get(name);
    if (existing) return existing;
    const breaker = circuitBreaker(handleAll, {
      halfOpenAfter: options.halfOpenAfterMs ?? 30_000,
      breaker: new ConsecutiveBreaker(options.breakerThreshold ?? 5),
    });
    breaker.onStateChange(() => this.since.set(name, new Date()));
    const retryable = options.retryable ?? (() => true);
    const retries = options.retries ?? 3;
    const retryPolicy =
      retries > 0
        ? retry(
            handleWhen(
              (err) =>
                !(err instanceof BrokenCircuitError) &&
                !(err instanceof IsolatedCircuitError) &&
                !(err instanceof BulkheadRejectedError) &&
                retryable(err),
            ),
            {
              maxAttempts: retries,
              backoff: new ExponentialBackoff({
                generator: fullJitterGenerator,
                initialDelay: options.initialDelayMs ?? 100,
                maxDelay: options.maxDelayMs ?? 10_000,
              }),
            },
          )
        : noop;
    const timeLimit =
      (options.timeoutMs ?? 10_000) > 0 ? timeout(options.timeoutMs ?? 10_000, TimeoutStrategy.Aggressive) : noop;
    const limit = options.bulkhead ? bulkhead(options.bulkhead.limit, options.bulkhead.queue ?? 0) : noop;
    const composed: IPolicy = wrap(limit, retryPolicy, breaker, timeLimit);
    const policy: ResiliencePolicy = {
      name,
      breaker,
      async execute(fn) {
        try {
          return await composed.execute(({ signal }) => fn(signal));
        } catch (err) {
          if (err instanceof BrokenCircuitError || err instanceof IsolatedCircuitError) {
            throw hubError("HUB_ERR_CIRCUIT_OPEN", `${name}: calls suspended after repeated failures`, err);
          }
          if (err instanceof TaskCancelledError) throw hubError("HUB_ERR_INTERNAL", `${name}: timed out`, err);
          throw err;
        }
      },
    };
    this.policies.set(name, policy);
    return policy;
  }

  /** Every breaker with its state and when it last changed. */
  states(): Array<{ name: string; state: BreakerState; since?: string }> {
    return [...this.policies.values()].map((p) => ({
      name: p.name,
      state: STATE_NAMES[p.breaker.state],
      since: this.since.get(p.name)?.toISOString(),
    }));
  }
}
