/**
 * The TransactionCoordinator on a real PostgreSQL, as the hub's least-privilege role: steps and
 * their effects commit together and at most once; a permanent failure at any position compensates
 * exactly the completed steps in reverse; retries are durable; a compensation that keeps failing
 * leaves the saga failed, dead-lettered and counted; two coordinators share the work without a
 * step running twice; a dead process's sagas are taken over within 2 s; a process that lost its
 * claim while stuck in a step writes nothing.
 */
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { Registry } from "prom-client";
import t from "tap";
import { migrate } from "../src/db/migrate.js";
import { openPool } from "../src/db/pool.js";
import { runtimeDatabaseUrl } from "../src/db/runtime-role.js";
import { DeadLetterQueue } from "../src/dead-letters/index.js";
import { Coordinator, type CoordinatorOptions } from "../src/sagas/coordinator.js";
import { defineSaga, PermanentStepError, type SagaDefinition, waitUntil } from "../src/sagas/definition.js";
import { abortSaga, retrySaga, sagaDetail } from "../src/sagas/queries.js";
import { startSaga } from "../src/sagas/repository.js";
import { startTestPostgres } from "./fixtures/postgres.js";

const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });
const dataDir = mkdtempSync(join(tmpdir(), "hub-sagas-"));
chmodSync(dataDir, 0o755);
const db = await startTestPostgres(join(dataDir, "db"), log);
t.teardown(() => db.stop());
const owner = openPool({ connectionString: db.url, max: 4 }, log);
t.teardown(() => owner.end());
await migrate(owner, log);
// what the test sagas' steps do: one row per effect (an effect twice is refused by the key)
await owner.query(`CREATE TABLE erp.saga_effects (
  saga_id uuid NOT NULL, step text NOT NULL, phase text NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (saga_id, step, phase))`);
const appUrl = await runtimeDatabaseUrl(owner, db.url, log);
const app = openPool({ connectionString: appUrl, max: 30 }, log);
t.teardown(() => app.end());

type Input = { failAt?: number; flaky?: number; compensationFails?: boolean; hangAt?: number };
const gates = new Map<string, Promise<void>>();
/** Called when a saga's step reaches its gate (the step is in progress, its transaction open). */
const arrivals = new Map<string, () => void>();
/** Whether the undo of step two is broken (for sagas that ask for it). */
let undoBroken = true;

/** A five-step saga whose steps record their effects; the input says where it fails. */
function testSaga(type: string): SagaDefinition<Input> {
  return defineSaga<Input>({
    type,
    version: 1,
    compensationRetry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20 },
    steps: ["one", "two", "three", "four", "five"].map((name, position) => ({
      name,
      retry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 20 },
      timeoutMs: 10_000,
      async action(tx, input, ctx) {
        if (input.hangAt === position) {
          arrivals.get(ctx.sagaId)?.();
          await gates.get(ctx.sagaId);
        }
        await tx.query("INSERT INTO erp.saga_effects (saga_id, step, phase) VALUES ($1, $2, 'action')", [
          ctx.sagaId,
          name,
        ]);
        if (input.flaky === position && ctx.attempt < 3) throw new Error(`flaky ${name}, attempt ${ctx.attempt}`);
        if (input.failAt === position) throw new PermanentStepError(`${name} refused`);
        return { step: name, attempt: ctx.attempt };
      },
      async compensate(tx, input, ctx) {
        if (input.compensationFails && undoBroken && position === 1) throw new Error("the undo of two is broken");
        await tx.query("INSERT INTO erp.saga_effects (saga_id, step, phase) VALUES ($1, $2, 'compensation')", [
          ctx.sagaId,
          name,
        ]);
      },
    })),
  });
}

const saga = testSaga("test-five");
const registry = new Registry();
const deadLetters = new DeadLetterQueue(app, log);
const coordinator = (options: Partial<CoordinatorOptions> = {}, pool = app) =>
  new Coordinator(pool, {
    definitions: [saga as SagaDefinition<never>],
    log,
    leaseMs: 1000,
    pollMs: 50,
    deadLetters,
    ...options,
  });

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const start = async (input: Input, key = crypto.randomUUID()) =>
  (await startSaga(app, { type: saga.type, version: 1, key, input, startedBy: "test" })).id;
const stateOf = async (id: string) =>
  (await owner.query("SELECT state FROM saga.instances WHERE id = $1", [id])).rows[0]?.state as string;
const ended = (id: string) =>
  until(`saga ${id} to end`, async () => {
    const state = await stateOf(id);
    return ["completed", "compensated", "failed"].includes(state) && state;
  });
const effects = async (id: string) =>
  (
    await owner.query("SELECT phase || ':' || step AS e FROM erp.saga_effects WHERE saga_id = $1 ORDER BY seq", [id])
  ).rows.map((r) => r.e);

const main = coordinator({ registry });
await main.start();
t.teardown(() => main.stop());

t.test("a saga runs its steps in order, each once, and completes; a start is idempotent", async (t) => {
  const key = crypto.randomUUID();
  const id = await start({}, key);
  t.equal(await start({}, key), id, "the same key starts nothing new");
  await t.rejects(start({ failAt: 1 }, key), { code: "HUB_ERR_IDEMPOTENCY_MISMATCH" });
  t.equal(await ended(id), "completed");
  t.same(await effects(id), ["action:one", "action:two", "action:three", "action:four", "action:five"]);
  const { rows } = await owner.query("SELECT outputs, position, owner_id FROM saga.instances WHERE id = $1", [id]);
  t.same(rows[0].outputs.three, { step: "three", attempt: 1 });
  t.equal(rows[0].owner_id, null, "released when done");
});

t.test("a durable timer: the saga waits in the database, outlives its process, and goes on when due", async (t) => {
  const timer = defineSaga<{ at: string }>({
    type: "test-timer",
    version: 1,
    steps: [
      {
        name: "wait",
        async action(_tx, { at }, ctx) {
          if (Date.now() < Date.parse(at)) return waitUntil(new Date(at));
          return { attempt: ctx.attempt };
        },
      },
      { name: "after", action: async () => null },
    ],
  });
  const first = coordinator({ definitions: [timer as SagaDefinition<never>] });
  await first.start();
  const at = new Date(Date.now() + 1500).toISOString();
  const { id } = await startSaga(app, {
    type: timer.type,
    version: 1,
    key: crypto.randomUUID(),
    input: { at },
    startedBy: "test",
  });
  await until("the saga to wait", async () => (await stateOf(id)) === "waiting");
  await first.stop();
  const second = coordinator({ definitions: [timer as SagaDefinition<never>] });
  await second.start();
  t.teardown(() => second.stop());
  t.equal(await ended(id), "completed");
  const { rows } = await owner.query(
    "SELECT step, outcome, process_id, finished_at FROM saga.step_runs WHERE saga_id = $1 ORDER BY id",
    [id],
  );
  t.same(
    rows.map((r) => `${r.step}:${r.outcome}`),
    ["wait:waiting", "wait:succeeded", "after:succeeded"],
  );
  t.equal(rows[0].process_id, first.processId);
  t.equal(rows[1].process_id, second.processId, "the other process ran it when due");
  t.ok(rows[1].finished_at.getTime() >= Date.parse(at), "not before its time");
  const outputs = (await owner.query("SELECT outputs FROM saga.instances WHERE id = $1", [id])).rows[0].outputs;
  t.same(outputs.wait, { attempt: 1 }, "waiting used up no attempt");
});

t.test("a permanent failure at each position compensates exactly the completed steps, in reverse", async (t) => {
  const names = ["one", "two", "three", "four", "five"];
  const ids = await Promise.all(names.map((_, failAt) => start({ failAt })));
  for (const [failAt, id] of ids.entries()) {
    t.equal(await ended(id), "compensated", `failing at ${names[failAt]}`);
    const done = names.slice(0, failAt);
    t.same(
      await effects(id),
      [...done.map((n) => `action:${n}`), ...[...done].reverse().map((n) => `compensation:${n}`)],
      `${names[failAt]}: ${done.length} compensations, last step first`,
    );
  }
  // the failed step's own effect was rolled back with it: recorded only as the attempt
  const failed = await owner.query(
    "SELECT count(*)::int AS n FROM saga.step_runs WHERE saga_id = $1 AND outcome = 'failed' AND phase = 'action'",
    [ids[2]],
  );
  t.equal(failed.rows[0].n, 1);
  const kept = await owner.query(
    "SELECT count(*)::int AS n FROM erp.saga_effects WHERE saga_id = $1 AND step = 'three'",
    [ids[2]],
  );
  t.equal(kept.rows[0].n, 0, "the failing step's writes rolled back with it");
});

t.test("a transient failure is retried with backoff, durably, and the saga completes", async (t) => {
  const id = await start({ flaky: 2 });
  t.equal(await ended(id), "completed");
  const { rows } = await owner.query(
    "SELECT outcome, attempt FROM saga.step_runs WHERE saga_id = $1 AND step = 'three' ORDER BY id",
    [id],
  );
  t.same(
    rows.map((r) => `${r.outcome}@${r.attempt}`),
    ["retrying@1", "retrying@2", "succeeded@3"],
  );
  t.same(await effects(id), ["action:one", "action:two", "action:three", "action:four", "action:five"]);
});

t.test("a compensation that keeps failing: saga failed, a dead letter, the alert metric", async (t) => {
  const id = await start({ failAt: 3, compensationFails: true });
  t.equal(await ended(id), "failed");
  t.same(await effects(id), ["action:one", "action:two", "action:three", "compensation:three"]);
  // dead-lettered right after the failed state commits
  const letter = await until(
    "the dead letter",
    async () =>
      (await owner.query("SELECT payload, error_message FROM ops.dead_letters WHERE source = 'saga'")).rows[0],
  );
  t.match(letter, { payload: { sagaId: id, step: "two" }, error_message: /undo of two is broken/ });
  const failedMetric = (await registry.getSingleMetricAsString("hub_sagas_ended_total")).split("\n");
  t.ok(
    failedMetric.some((l) => l.includes('state="failed"') && / 1$/.test(l)),
    "hub_sagas_ended_total{state=failed} 1",
  );
});

t.test(
  "a failed saga retried once its cause is fixed compensates the rest; retry is for failed sagas only",
  async (t) => {
    const id = await start({ failAt: 2, compensationFails: true });
    t.equal(await ended(id), "failed");
    await t.rejects(abortSaga(app, id, "test"), { code: "HUB_ERR_TRANSITION_NOT_ALLOWED" });
    undoBroken = false;
    await retrySaga(app, id);
    t.equal(await ended(id), "compensated");
    t.same(await effects(id), ["action:one", "action:two", "compensation:two", "compensation:one"]);
    const detail = await sagaDetail(app, id);
    t.same(
      detail.steps.map((s) => `${s.phase}:${s.step}:${s.outcome}`),
      [
        "action:one:succeeded",
        "action:two:succeeded",
        "action:three:failed",
        "compensation:two:retrying",
        "compensation:two:retrying",
        "compensation:two:failed",
        "compensation:two:succeeded",
        "compensation:one:succeeded",
      ],
      "the whole history, with timings",
    );
    t.ok(detail.steps.every((s) => s.ms >= 0));
    await t.rejects(retrySaga(app, id), { code: "HUB_ERR_TRANSITION_NOT_ALLOWED" });
  },
);

t.test("an aborted saga compensates every step it completed, the one in progress included", async (t) => {
  let release: () => void = () => undefined;
  const id = crypto.randomUUID();
  gates.set(
    id,
    new Promise<void>((resolve) => {
      release = resolve;
    }),
  );
  await owner.query(
    `INSERT INTO saga.instances (id, type, version, idempotency_key, input, started_by)
     VALUES ($1::uuid, $2, 1, $1::text, '{"hangAt": 3}', 'test')`,
    [id, saga.type],
  );
  await new Promise<void>((resolve) => arrivals.set(id, resolve)); // step four in progress
  // step four holds the saga's row: the abort is a request, seen before step five
  t.equal(await abortSaga(app, id, "office@example.com"), "requested");
  t.equal(await abortSaga(app, id, "office@example.com"), "requested", "asked again: still requested");
  release();
  t.equal(await ended(id), "compensated");
  t.same(await effects(id), [
    "action:one",
    "action:two",
    "action:three",
    "action:four",
    "compensation:four",
    "compensation:three",
    "compensation:two",
    "compensation:one",
  ]);
  t.match((await sagaDetail(app, id)).error, { aborted: true, by: "office@example.com" });
});

t.test("two coordinators share 200 sagas; no step runs twice", async (t) => {
  const second = coordinator();
  await second.start();
  t.teardown(() => second.stop());
  const ids = await Promise.all(Array.from({ length: 200 }, () => start({})));
  await until(
    "200 sagas completed",
    async () => {
      const { rows } = await owner.query(
        "SELECT count(*)::int AS n FROM saga.instances WHERE id = ANY($1) AND state = 'completed'",
        [ids],
      );
      return rows[0].n === 200;
    },
    60_000,
  );
  const runs = await owner.query(
    `SELECT count(*)::int AS n, count(DISTINCT process_id)::int AS processes FROM saga.step_runs WHERE saga_id = ANY($1)`,
    [ids],
  );
  t.equal(runs.rows[0].n, 1000, "1,000 step runs: five per saga, none twice");
  t.equal(runs.rows[0].processes, 2, "both processes did some");
  const { rows } = await owner.query("SELECT count(*)::int AS n FROM erp.saga_effects WHERE saga_id = ANY($1)", [ids]);
  t.equal(rows[0].n, 1000, "and 1,000 effects");
});

t.test("a process that dies mid-step: another takes its sagas over within 2 s and finishes them", async (t) => {
  await main.stop(); // only the doomed process and the survivor run now
  // the doomed process has connections of its own, named so that they can all be ended at once
  const doomedPool = openPool({ connectionString: appUrl, max: 10, application_name: "doomed" }, log);
  const doomed = coordinator({}, doomedPool);
  const kill = () => {
    void doomed.stop(); // its loop ends here (a dead process claims nothing more); its steps never return
    return owner.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'doomed'");
  };
  // its JavaScript never learns it died: the steps it started wait forever, its pool is never drained
  t.teardown(async () => {
    await kill();
    void doomedPool.end().catch(() => undefined);
  });
  await doomed.start();
  const ids = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const id = crypto.randomUUID();
      gates.set(id, new Promise(() => undefined)); // step three never finishes in the doomed process
      await owner.query(
        `INSERT INTO saga.instances (id, type, version, idempotency_key, input, started_by)
         VALUES ($1::uuid, $2, 1, $1::text, '{"hangAt": 2}', 'test')`,
        [id, saga.type],
      );
      return id;
    }),
  );
  await until("the doomed process to hold all five in step three", async () => {
    const { rows } = await owner.query(
      "SELECT count(*)::int AS n FROM saga.instances WHERE id = ANY($1) AND owner_id = $2 AND position = 2",
      [ids, doomed.processId],
    );
    return rows[0].n === 5;
  });
  for (const id of ids) gates.delete(id); // the survivor's run of step three goes through
  const survivor = coordinator();
  await survivor.start();
  t.teardown(() => survivor.stop());
  // the process dies: PostgreSQL sees all its connections end (its liveness lock with them)
  const killedAt = Date.now();
  const { rowCount } = await kill();
  t.ok((rowCount ?? 0) >= 6, `${rowCount} connections of the dead process ended (its lock and five steps)`);
  // taken over: the survivor committed a step of each of them
  const takenOver = await until("every saga of the dead process running elsewhere", async () => {
    const { rows } = await owner.query(
      "SELECT count(DISTINCT saga_id)::int AS n FROM saga.step_runs WHERE saga_id = ANY($1) AND process_id = $2",
      [ids, survivor.processId],
    );
    return rows[0].n === 5 && Date.now();
  });
  t.ok(takenOver - killedAt < 2000, `taken over after ${takenOver - killedAt} ms`);
  for (const id of ids) t.equal(await ended(id), "completed");
  const twice = await owner.query(
    "SELECT count(*)::int AS n FROM erp.saga_effects WHERE saga_id = ANY($1) GROUP BY saga_id, step, phase HAVING count(*) > 1",
    [ids],
  );
  t.equal(twice.rowCount, 0, "no effect twice");
});
