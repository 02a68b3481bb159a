/**
 * The sagas over HTTP and as a command, on a real PostgreSQL: list by state, one with its step
 * history, retry of a failed saga and abort of a running one (each audited with the caller),
 * refused where the state does not allow it or the role does not.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { startPlatform } from "./fixtures/platform.js";

const platform = await startPlatform();
t.teardown(() => platform.close());
const { app, pool } = platform;
const manager = platform.as("project_manager");

/** A saga as a coordinator leaves it: `state` at `position`, with one step run. */
async function saga(state: string, position: number): Promise<string> {
  const { rows } = await pool.query(
    `INSERT INTO saga.instances (type, version, idempotency_key, input, state, position, started_by)
     VALUES ('order-demo', 1, gen_random_uuid()::text, '{"order": 1}', $1, $2, 'test') RETURNING id`,
    [state, position],
  );
  await pool.query(
    `INSERT INTO saga.step_runs (saga_id, position, step, phase, attempt, outcome, fence, started_at)
     VALUES ($1, 0, 'reserve', 'action', 1, 'succeeded', 1, now() - interval '5 milliseconds')`,
    [rows[0].id],
  );
  return rows[0].id;
}
const post = (url: string, headers = manager) =>
  app.inject({ method: "POST", url: `/api/v1${url}`, headers, payload: {} });

t.test("list by state, one with its history; retry a failed saga, abort a running one", async (t) => {
  const failed = await saga("failed", 0);
  const running = await saga("running", 2);
  const list = await app.inject({ method: "GET", url: "/api/v1/sagas?state=failed", headers: platform.as("office") });
  t.equal(list.statusCode, 200);
  t.same(
    list.json().items.map((s: { id: string }) => s.id),
    [failed],
  );
  const detail = await app.inject({ method: "GET", url: `/api/v1/sagas/${failed}`, headers: manager });
  t.match(detail.json(), { state: "failed", input: { order: 1 }, steps: [{ step: "reserve", outcome: "succeeded" }] });
  t.ok(detail.json().steps[0].ms >= 0);
  const retried = await post(`/sagas/${failed}/retry`);
  t.match(retried.json(), { state: "compensating", position: 0 });
  t.match((await post(`/sagas/${failed}/retry`)).json(), { code: "HUB_ERR_TRANSITION_NOT_ALLOWED" }, "once");
  const aborted = await post(`/sagas/${running}/abort`);
  t.match(aborted.json(), { state: "compensating", position: 1, error: { aborted: true } });
  const { rows } = await pool.query(
    "SELECT actor_id, after->>'state' AS state FROM audit.records WHERE table_name = 'instances' AND entity_id = $1 ORDER BY id DESC LIMIT 1",
    [running],
  );
  t.same(rows[0], { actor_id: platform.userId("project_manager"), state: "compensating" }, "audited with its caller");
  t.equal((await post(`/sagas/${running}/abort`, platform.as("office"))).statusCode, 403, "office reads only");
  t.equal((await post(`/sagas/${crypto.randomUUID()}/abort`)).statusCode, 404);
});

t.test("an abort while a step holds the saga is a request, audited with its caller", async (t) => {
  const busy = await saga("running", 1);
  // a step in progress: its transaction holds the saga's row
  const step = await pool.connect();
  t.teardown(() => step.release());
  await step.query("BEGIN");
  await step.query("SELECT 1 FROM saga.instances WHERE id = $1 FOR NO KEY UPDATE", [busy]);
  const asked = await post(`/sagas/${busy}/abort`);
  t.equal(asked.statusCode, 202, "answered without waiting for the step");
  t.match(asked.json(), { state: "running", position: 1 });
  await step.query("ROLLBACK");
  const { rows } = await pool.query(
    `SELECT r.requested_by, a.actor_id FROM saga.abort_requests r
     JOIN audit.records a ON a.table_name = 'abort_requests' AND a.entity_id = r.id::text WHERE r.id = $1`,
    [busy],
  );
  t.same(rows, [{ requested_by: "project_manager@example.com", actor_id: platform.userId("project_manager") }]);
  const again = await post(`/sagas/${busy}/abort`);
  t.equal(again.statusCode, 200, "the row free again: aborted at once");
  t.match(again.json(), { state: "compensating", position: 0 });
  t.equal(
    (await pool.query("SELECT 1 FROM saga.abort_requests WHERE id = $1", [busy])).rowCount,
    0,
    "the request gone",
  );
});

t.test("npm run hub -- sagas list|show|abort", async (t) => {
  const running = await saga("running", 1);
  const run = (...args: string[]) =>
    promisify(execFile)(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "../src/main.ts"), "sagas", ...args],
      {
        env: { ...process.env, DATABASE_URL: platform.db.url, LOG_LEVEL: "warn", USER: "ops" },
        timeout: 60_000,
      },
    );
  const listed = JSON.parse((await run("list", "--state", "running")).stdout);
  t.ok(listed.some((s: { id: string }) => s.id === running));
  t.match(JSON.parse((await run("show", running)).stdout), { id: running, steps: [{ step: "reserve" }] });
  t.match(JSON.parse((await run("abort", running)).stdout), { state: "compensating", error: { by: "cli:ops" } });
  const again = await run("abort", running).catch((err) => err);
  t.equal(again.code, 1, "a second abort is refused");
  t.match(again.stderr, /compensating: only a running saga is aborted/);
  t.equal((await run("show").catch((err) => err)).code, 2, "bad arguments exit 2");
});
