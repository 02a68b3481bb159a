/**
 * The shared resilience policies with a fake failing function: retry counts with backoff, the
 * breaker opening, exactly one half-open trial, closing on success, timeout and bulkhead; the
 * gRPC idempotency helper's contract is covered with the HTTP plugin in customers-idempotency.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Registry } from "prom-client";
import t from "tap";
import { ResilienceRegistry } from "../src/platform/resilience.js";

/** A function failing its first `failures` calls, counting calls. */
const flaky = (failures: number, delayMs = 0) => {
  const f = {
    calls: 0,
    async run() {
      f.calls++;
      if (delayMs) await sleep(delayMs);
      if (f.calls <= failures) throw new Error(`failure ${f.calls}`);
      return "ok";
    },
  };
  return f;
};

t.test("retries with backoff until success; gives up after the limit", async (t) => {
  const registry = new ResilienceRegistry();
  const policy = registry.policy("retry", { retries: 3, initialDelayMs: 5, maxDelayMs: 20, breakerThreshold: 100 });
  const ok = flaky(2);
  t.equal(await policy.execute(() => ok.run()), "ok");
  t.equal(ok.calls, 3, "two failures, then success");
  const never = flaky(100);
  await t.rejects(
    policy.execute(() => never.run()),
    /failure 4/,
  );
  t.equal(never.calls, 4, "first attempt + 3 retries");
  const permanent = registry.policy("permanent", { retries: 3, initialDelayMs: 1, retryable: () => false });
  const once = flaky(100);
  await t.rejects(permanent.execute(() => once.run()));
  t.equal(once.calls, 1, "a failure marked not retryable is not retried");
});

t.test("the breaker opens, lets exactly one trial through when half-open, closes on success", async (t) => {
  const metrics = new Registry();
  const registry = new ResilienceRegistry(metrics);
  const policy = registry.policy("erp-partner", { retries: 0, breakerThreshold: 3, halfOpenAfterMs: 100 });
  const f = flaky(3);
  for (let i = 0; i < 3; i++) await t.rejects(policy.execute(() => f.run()));
  t.same(
    registry.states().map((s) => s.state),
    ["open"],
  );
  await t.rejects(
    policy.execute(() => f.run()),
    { code: "HUB_ERR_CIRCUIT_OPEN" },
    "refused while open",
  );
  t.equal(f.calls, 3, "the open breaker does not call");
  t.match(await metrics.metrics(), /hub_circuit_breaker_state\{name="erp-partner"\} 1/);
  await sleep(120);
  const slow = flaky(0, 50);
  const both = Promise.allSettled([policy.execute(() => slow.run()), policy.execute(() => slow.run())]);
  await sleep(20);
  t.equal(slow.calls, 1, "one half-open trial at a time: the second call waits for its outcome");
  t.same(
    registry.states().map((s) => s.state),
    ["half-open"],
  );
  const trials = await both;
  t.same(
    trials.map((r) => r.status),
    ["fulfilled", "fulfilled"],
    "the trial succeeded, so the waiting call ran after it",
  );
  t.equal(slow.calls, 2);
  t.same(
    registry.states().map((s) => s.state),
    ["closed"],
    "closed after the trial succeeded",
  );
  t.ok(registry.states()[0]?.since, "with the time of the change");
});

t.test("a failed half-open trial opens it again", async (t) => {
  const registry = new ResilienceRegistry();
  const policy = registry.policy("again", { retries: 0, breakerThreshold: 1, halfOpenAfterMs: 50 });
  await t.rejects(policy.execute(() => flaky(10).run()));
  await sleep(70);
  const f = flaky(10, 30);
  const [trial, waiting] = await Promise.allSettled([policy.execute(() => f.run()), policy.execute(() => f.run())]);
  t.match(trial, { status: "rejected", reason: { message: "failure 1" } }, "the trial ran and failed");
  t.match(waiting, { status: "rejected", reason: { code: "HUB_ERR_CIRCUIT_OPEN" } }, "the waiting call is refused");
  t.equal(f.calls, 1);
  t.same(
    registry.states().map((s) => s.state),
    ["open"],
  );
});

t.test("timeout per attempt and bulkhead", async (t) => {
  const registry = new ResilienceRegistry();
  const timed = registry.policy("slow", { retries: 0, timeoutMs: 30 });
  let aborted = false;
  await t.rejects(
    timed.execute(async (signal) => {
      signal.addEventListener("abort", () => {
        aborted = true;
      });
      await sleep(200);
    }),
  );
  t.ok(aborted, "the attempt's signal is aborted");
  const limited = registry.policy("limited", { retries: 2, initialDelayMs: 1, bulkhead: { limit: 1, queue: 0 } });
  const results = await Promise.allSettled([
    limited.execute(() => sleep(50).then(() => 1)),
    limited.execute(() => sleep(50).then(() => 2)),
  ]);
  t.same(
    results.map((r) => r.status),
    ["fulfilled", "rejected"],
    "the second call is refused by the bulkhead, not retried",
  );
  t.equal(registry.policy("limited"), limited, "one policy per system, shared");
});
