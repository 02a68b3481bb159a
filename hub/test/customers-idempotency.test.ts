/**
 * The representative ERP entity on a real PostgreSQL: Idempotency-Key semantics (one effect for
 * 200 concurrent duplicates, replay, 422, 409, errors stored), optimistic locking (428, 412, one
 * winner of a race) and the audit records each write leaves.
 */
import { setTimeout as sleep } from "node:timers/promises";
import t from "tap";
import { hubError } from "../src/errors.js";
import { txOf } from "../src/platform/idempotency.js";
import { startPlatform } from "./fixtures/platform.js";

const platform = await startPlatform({
  deps: { idempotency: { inFlightWaitMs: 10_000 } },
  extend(app) {
    // A slow idempotent write, to hold a key in flight.
    app.post("/api/v1/test/slow", { config: { permission: "customers:write", idempotent: true } }, async (req) => {
      await txOf(req).query("SELECT pg_sleep(0.8)");
      return { done: true };
    });
    // Writes, then refuses: the refusal is stored under the key, the write rolled back.
    app.post("/api/v1/test/refuse", { config: { permission: "customers:write", idempotent: true } }, async (req) => {
      await txOf(req).query("INSERT INTO erp.customers (name) VALUES ($1)", [(req.body as { name: string }).name]);
      throw hubError("HUB_ERR_PRECONDITION_FAILED", "refused after writing");
    });
    // A first statement with a quote (sent after BEGIN, not with it), then a write.
    app.post("/api/v1/test/quoted", { config: { permission: "customers:write", idempotent: true } }, async (req) => {
      const { rows } = await txOf(req).query("SELECT 'it''s' AS v");
      await txOf(req).query("INSERT INTO erp.customers (name) VALUES ($1)", [(req.body as { name: string }).name]);
      return { v: rows[0]?.v };
    });
  },
});
t.teardown(() => platform.close());
const { app, pool } = platform;
const office = platform.as("office");

type Injected = Awaited<ReturnType<typeof app.inject>>;
const code = (res: Injected) => (res.json() as { code?: string }).code;
const create = (body: object, headers: Record<string, string> = {}) =>
  app.inject({ method: "POST", url: "/api/v1/customers", headers: { ...office, ...headers }, payload: body });
const count = async (sql: string, params: unknown[] = []) =>
  Number((await pool.query<{ n: string }>(sql, params)).rows[0]?.n);

t.test(
  "200 concurrent identical requests with one key: one customer, one audit record, identical answers",
  async (t) => {
    const key = "create-acme-1";
    const responses = await Promise.all(
      Array.from({ length: 200 }, () =>
        create({ name: "Acme Solar GmbH", city: "Kassel" }, { "idempotency-key": key }),
      ),
    );
    const statuses = new Set(responses.map((r) => r.statusCode));
    t.same([...statuses], [201], "every duplicate gets the first response's status");
    t.equal(new Set(responses.map((r) => r.body)).size, 1, "and its body, byte for byte");
    t.equal(
      responses.filter((r) => r.headers["idempotency-replayed"] !== "true").length,
      1,
      "one original, 199 replays",
    );
    t.equal(new Set(responses.map((r) => r.headers.etag)).size, 1, "the ETag is replayed");
    const id = (responses[0]?.json() as { id: string } | undefined)?.id;
    t.equal(await count("SELECT count(*) AS n FROM erp.customers WHERE name = 'Acme Solar GmbH'"), 1, "one row");
    t.equal(
      await count("SELECT count(*) AS n FROM audit.records WHERE table_name = 'customers' AND entity_id = $1", [id]),
      1,
      "one audit record",
    );
    const replay = await create({ name: "Acme Solar GmbH", city: "Kassel" }, { "idempotency-key": key });
    t.equal(replay.statusCode, 201);
    t.equal(replay.headers["idempotency-replayed"], "true", "a later retry is replayed too");
    t.equal(replay.headers.location, responses[0]?.headers.location);
  },
);

t.test("the same key with another body: 422; keys are per principal", async (t) => {
  t.equal((await create({ name: "First" }, { "idempotency-key": "k-422" })).statusCode, 201);
  const other = await create({ name: "Second" }, { "idempotency-key": "k-422" });
  t.equal(other.statusCode, 422);
  t.equal(code(other), "HUB_ERR_IDEMPOTENCY_MISMATCH");
  t.match(other.headers["content-type"], /^application\/problem\+json/);
  const admin = await app.inject({
    method: "POST",
    url: "/api/v1/customers",
    headers: { ...platform.as("admin"), "idempotency-key": "k-422" },
    payload: { name: "Second" },
  });
  t.equal(admin.statusCode, 201, "another principal's key of the same name is its own");
  const bad = await create({ name: "x" }, { "idempotency-key": "bad key with spaces" });
  t.equal(code(bad), "HUB_ERR_IDEMPOTENCY_KEY_INVALID");
});

t.test("a key still in flight: 409 once the wait is over; then the stored response", async (t) => {
  const quick = await startPlatformLite();
  const headers = { ...office, "idempotency-key": "slow-1" };
  const first = app.inject({ method: "POST", url: "/api/v1/test/slow", headers, payload: { a: 1 } });
  await sleep(150);
  const second = await quick.inject({ method: "POST", url: "/api/v1/test/slow", headers, payload: { a: 1 } });
  t.equal(second.statusCode, 409);
  t.equal(code(second), "HUB_ERR_IDEMPOTENCY_IN_FLIGHT");
  t.equal(second.headers["retry-after"], "1");
  t.equal((await first).statusCode, 200);
  const third = await quick.inject({ method: "POST", url: "/api/v1/test/slow", headers, payload: { a: 1 } });
  t.equal(third.statusCode, 200);
  t.equal(third.headers["idempotency-replayed"], "true");
  await quick.close();
});

t.test("an error response is stored and replayed; its effect rolled back", async (t) => {
  const created = await create({ name: "Locked GmbH" });
  const { id } = created.json() as { id: string };
  const headers = { ...office, "idempotency-key": "patch-428" };
  const first = await app.inject({
    method: "PATCH",
    url: `/api/v1/customers/${id}`,
    headers,
    payload: { city: "Ulm" },
  });
  t.equal(first.statusCode, 428);
  const again = await app.inject({
    method: "PATCH",
    url: `/api/v1/customers/${id}`,
    headers: { ...headers, "if-match": '"1"' },
    payload: { city: "Ulm" },
  });
  t.equal(again.statusCode, 428, "the same key replays the first answer, even with If-Match now");
  t.equal(again.headers["idempotency-replayed"], "true");
  t.equal(again.body, first.body);
  const row = await pool.query("SELECT city, version FROM erp.customers WHERE id = $1", [id]);
  t.same(row.rows[0], { city: null, version: 1 }, "nothing changed");
});

t.test("a refusal after a write: rolled back to before the write, stored under the key and replayed", async (t) => {
  const headers = { ...office, "idempotency-key": "refuse-1" };
  const post = () =>
    app.inject({ method: "POST", url: "/api/v1/test/refuse", headers, payload: { name: "Refused AG" } });
  const first = await post();
  t.equal(first.statusCode, 412);
  const again = await post();
  t.equal(again.statusCode, 412);
  t.equal(again.headers["idempotency-replayed"], "true");
  t.equal(again.body, first.body);
  t.equal(await count("SELECT count(*) AS n FROM erp.customers WHERE name = 'Refused AG'"), 0, "nothing written");
  t.equal(await count("SELECT count(*) AS n FROM audit.records WHERE after->>'name' = 'Refused AG'"), 0, "nor audited");
});

t.test("a first statement that is not batched with BEGIN: still one transaction, one effect", async (t) => {
  const headers = { ...office, "idempotency-key": "quoted-1" };
  const post = () =>
    app.inject({ method: "POST", url: "/api/v1/test/quoted", headers, payload: { name: "Quoted KG" } });
  const responses = await Promise.all([post(), post(), post()]);
  t.same(
    responses.map((r) => r.statusCode),
    [200, 200, 200],
  );
  t.same(responses[0]?.json(), { v: "it's" });
  t.equal(responses.filter((r) => r.headers["idempotency-replayed"] === "true").length, 2, "two replays");
  t.equal(await count("SELECT count(*) AS n FROM erp.customers WHERE name = 'Quoted KG'"), 1);
});

t.test("optimistic locking: ETag, 428, 412 never overwrites, one winner of a race", async (t) => {
  const created = await create({ name: "Sonnenhof KG" });
  t.equal(created.statusCode, 201);
  t.equal(created.headers.etag, '"1"');
  const { id } = created.json() as { id: string };
  const read = await app.inject({ method: "GET", url: `/api/v1/customers/${id}`, headers: office });
  t.equal(read.headers.etag, '"1"');
  const patch = (ifMatch: string | undefined, body: object) =>
    app.inject({
      method: "PATCH",
      url: `/api/v1/customers/${id}`,
      headers: { ...office, ...(ifMatch ? { "if-match": ifMatch } : {}) },
      payload: body,
    });
  const missing = await patch(undefined, { city: "Fulda" });
  t.equal(missing.statusCode, 428);
  t.equal(code(missing), "HUB_ERR_PRECONDITION_REQUIRED");
  const ok = await patch('"1"', { city: "Fulda" });
  t.equal(ok.statusCode, 200);
  t.equal(ok.headers.etag, '"2"');
  const stale = await patch('"1"', { city: "Overwritten" });
  t.equal(stale.statusCode, 412);
  t.equal(code(stale), "HUB_ERR_PRECONDITION_FAILED");
  t.equal((await pool.query("SELECT city FROM erp.customers WHERE id = $1", [id])).rows[0]?.city, "Fulda");
  const race = await Promise.all([patch('"2"', { city: "A" }), patch('"2"', { city: "B" })]);
  t.same(race.map((r) => r.statusCode).sort(), [200, 412], "two racing updates: one 200, one 412");
  const winner = (race.find((r) => r.statusCode === 200)?.json() as { city: string } | undefined)?.city;
  const stored = (await pool.query("SELECT city, version FROM erp.customers WHERE id = $1", [id])).rows[0];
  t.same(stored, { city: winner, version: 3 });
  const del412 = await app.inject({
    method: "DELETE",
    url: `/api/v1/customers/${id}`,
    headers: { ...office, "if-match": '"2"' },
  });
  t.equal(del412.statusCode, 412);
  const del428 = await app.inject({ method: "DELETE", url: `/api/v1/customers/${id}`, headers: office });
  t.equal(del428.statusCode, 428);
  const del = await app.inject({
    method: "DELETE",
    url: `/api/v1/customers/${id}`,
    headers: { ...office, "if-match": '"3"' },
  });
  t.equal(del.statusCode, 204);
  t.equal((await app.inject({ method: "GET", url: `/api/v1/customers/${id}`, headers: office })).statusCode, 404);
});

t.test("audit records of insert, update and delete: before, after, actor, request id, reason", async (t) => {
  const created = await create({ name: "Audit AG" }, { "request-id": "req-create-1" });
  const { id } = created.json() as { id: string };
  t.equal(created.headers["request-id"], "req-create-1", "the request id is echoed");
  await app.inject({
    method: "PATCH",
    url: `/api/v1/customers/${id}`,
    headers: { ...office, "if-match": '"1"', "x-request-id": "req-update-1", "audit-reason": "moved" },
    payload: { city: "Bonn" },
  });
  await app.inject({ method: "DELETE", url: `/api/v1/customers/${id}`, headers: { ...office, "if-match": '"2"' } });
  const { rows } = await pool.query(
    "SELECT op, actor_id, actor_name, request_id, reason, tags, before, after FROM audit.records WHERE entity_id = $1 ORDER BY id",
    [id],
  );
  t.same(
    rows.map((r) => r.op),
    ["INSERT", "UPDATE", "DELETE"],
  );
  t.ok(
    rows.every((r) => r.actor_id === platform.userId("office") && r.actor_name === "office@example.com"),
    "actor",
  );
  t.equal(rows[0].request_id, "req-create-1");
  t.equal(rows[1].request_id, "req-update-1");
  t.equal(rows[1].reason, "moved");
  t.same(rows[1].tags, ["customers"]);
  t.equal(rows[0].before, null);
  t.equal(rows[0].after.name, "Audit AG");
  t.same([rows[1].before.city, rows[1].after.city], [null, "Bonn"]);
  t.equal(rows[2].before.city, "Bonn");
  t.equal(rows[2].after, null);
  t.ok(typeof rows[2].request_id === "string" && rows[2].request_id.length > 0, "a generated request id otherwise");
});

t.test("permissions: technicians read customers but do not write them", async (t) => {
  const tech = platform.as("technician");
  t.equal((await app.inject({ method: "GET", url: "/api/v1/customers", headers: tech })).statusCode, 200);
  const refused = await app.inject({ method: "POST", url: "/api/v1/customers", headers: tech, payload: { name: "x" } });
  t.equal(refused.statusCode, 403);
  t.equal((await app.inject({ method: "GET", url: "/api/v1/customers" })).statusCode, 401);
});

t.test("list pages with a cursor", async (t) => {
  const seen = new Set<string>();
  let cursor: string | null = null;
  do {
    const res = await app.inject({
      method: "GET",
      url: `/api/v1/customers?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      headers: office,
    });
    const page = res.json() as { items: { id: string }[]; nextCursor: string | null };
    for (const c of page.items) seen.add(c.id);
    cursor = page.nextCursor;
  } while (cursor);
  t.equal(seen.size, await count("SELECT count(*) AS n FROM erp.customers"));
  const bad = await app.inject({ method: "GET", url: "/api/v1/customers?cursor=nope", headers: office });
  t.equal(code(bad), "HUB_ERR_BAD_CURSOR");
});

t.test("keys older than 24 h are purged", async (t) => {
  const { purgeIdempotencyKeys } = await import("../src/platform/idempotency-store.js");
  await pool.query("UPDATE ops.idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'k-422'");
  t.equal(await purgeIdempotencyKeys(pool), 2, "both principals' k-422");
  t.equal(await count("SELECT count(*) AS n FROM ops.idempotency_keys WHERE key = 'k-422'"), 0);
  t.ok(await count("SELECT count(*) AS n FROM ops.idempotency_keys"), "younger keys stay");
});

/** A second app on the same database with a short in-flight wait (as another hub instance). */
async function startPlatformLite() {
  const { buildHubHttp } = await import("../src/http.js");
  const { createHubMetrics } = await import("../src/metrics.js");
  const { log } = await import("./fixtures/platform.js");
  const other = await buildHubHttp({
    pool,
    log,
    metrics: createHubMetrics(),
    version: "test",
    pkiDir: platform.dataDir,
    idempotency: { inFlightWaitMs: 100 },
  });
  other.post("/api/v1/test/slow", { config: { permission: "customers:write", idempotent: true } }, async () => ({
    done: true,
  }));
  await other.ready();
  return other;
}

t.test("the helper for gRPC request ids: one run, the result replayed, 422 and 409", async (t) => {
  const { fingerprintOf, runIdempotent } = await import("../src/platform/idempotency-store.js");
  const request = (body: object, key = "grpc-1") => ({
    principalId: "edge:e1",
    key,
    fingerprint: fingerprintOf("GRPC", "ReportGaps", body),
    method: "GRPC",
    path: "ReportGaps",
  });
  let runs = 0;
  const run = async () => {
    runs++;
    await sleep(50);
    return { gapIds: [1, 2] };
  };
  const results = await Promise.all(Array.from({ length: 10 }, () => runIdempotent(pool, request({ a: 1 }), run)));
  t.equal(runs, 1, "ten concurrent duplicates, one run");
  t.ok(results.every((r) => JSON.stringify(r.value) === '{"gapIds":[1,2]}'));
  t.equal(results.filter((r) => !r.replayed).length, 1);
  await t.rejects(runIdempotent(pool, request({ a: 2 }), run), { code: "HUB_ERR_IDEMPOTENCY_MISMATCH" });
  const slow = runIdempotent(pool, request({ b: 1 }, "grpc-2"), () => sleep(300).then(() => 1));
  await sleep(50);
  await t.rejects(runIdempotent(pool, request({ b: 1 }, "grpc-2"), run, { inFlightWaitMs: 50 }), {
    code: "HUB_ERR_IDEMPOTENCY_IN_FLIGHT",
  });
  t.equal((await slow).value, 1);
  await t.rejects(runIdempotent(pool, request({ c: 1 }, "grpc-3"), () => Promise.reject(new Error("boom"))));
  t.equal(
    (await runIdempotent(pool, request({ c: 1 }, "grpc-3"), async () => "second")).value,
    "second",
    "a failure releases the key",
  );
});
