/**
 * The GoBD audit trail on a real PostgreSQL: append-only (triggers and grants), the hash chain and
 * `audit verify` finding a superuser's tampering, export as JSON lines and CSV, and reading the
 * trail over HTTP (permission-checked, itself audited).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import t from "tap";
import { verifyAuditChain } from "../src/audit/index.js";
import { inAuditedTransaction } from "../src/platform/audit-context.js";
import { startPlatform } from "./fixtures/platform.js";

const platform = await startPlatform();
t.teardown(() => platform.close());
const { app, pool } = platform;
const office = platform.as("office");
const MAIN = join(import.meta.dirname, "../src/main.ts");

/** `npm run hub -- audit ...` against this test's database. */
const cli = (...args: string[]) =>
  spawnSync(process.execPath, ["--import", "tsx", MAIN, "audit", ...args], {
    env: { ...process.env, DATABASE_URL: platform.db.url, LOG_LEVEL: "silent" },
    encoding: "utf8",
    timeout: 60_000,
  });

const start = new Date().toISOString();
const ids: string[] = [];
for (const name of ['Alpha, "quoted" GmbH', "Beta KG", "Gamma\nNewline"]) {
  const res = await app.inject({ method: "POST", url: "/api/v1/customers", headers: office, payload: { name } });
  ids.push((res.json() as { id: string }).id);
}
await app.inject({
  method: "PATCH",
  url: `/api/v1/customers/${ids[1]}`,
  headers: { ...office, "if-match": '"1"' },
  payload: { city: "Köln" },
});

t.test("every erp table is audited by the trigger; writes outside the API too", async (t) => {
  const { rows } = await pool.query<{ table: string }>(
    `SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'erp' AND c.relkind IN ('r', 'p')
       AND NOT EXISTS (SELECT 1 FROM pg_trigger tg JOIN pg_proc p ON p.oid = tg.tgfoid
                       WHERE tg.tgrelid = c.oid AND p.proname = 'log_change')`,
  );
  t.same(rows, [], "no erp table without the audit trigger");
  await inAuditedTransaction(pool, { actorId: "script:1", actorName: "migration script", reason: "cleanup" }, (tx) =>
    tx.query("UPDATE erp.customers SET notes = 'direct' WHERE id = $1", [ids[0]]),
  );
  await pool.query("UPDATE erp.customers SET notes = 'no context' WHERE id = $1", [ids[0]]);
  const audit = await pool.query(
    "SELECT actor_id, actor_name, reason FROM audit.records WHERE entity_id = $1 AND op = 'UPDATE' ORDER BY id",
    [ids[0]],
  );
  t.same(audit.rows, [
    { actor_id: "script:1", actor_name: "migration script", reason: "cleanup" },
    { actor_id: "db:postgres", actor_name: null, reason: null },
  ]);
});

t.test("audit records cannot be changed, deleted or truncated, not even by their owner", async (t) => {
  for (const sql of ["UPDATE audit.records SET reason = 'x'", "DELETE FROM audit.records", "TRUNCATE audit.records"]) {
    await t.rejects(pool.query(sql), { code: "42501" }, sql);
  }
  // and by grants: the application role may not write the table directly
  const grants = await pool.query<{ privilege_type: string }>(
    `SELECT privilege_type FROM information_schema.role_table_grants
     WHERE table_schema = 'audit' AND table_name = 'records' AND grantee = 'steinmetz_app'`,
  );
  t.same(
    grants.rows.map((r) => r.privilege_type),
    ["SELECT"],
    "steinmetz_app only reads; appends go through the definer function",
  );
  t.same((await verifyAuditChain(pool)).ok, true, "the chain is intact");
});

t.test("GET /audit: auditors and admins only; the read is itself audited", async (t) => {
  t.equal((await app.inject({ method: "GET", url: "/api/v1/audit", headers: office })).statusCode, 403);
  const res = await app.inject({
    method: "GET",
    url: `/api/v1/audit?entity=erp.customers&entityId=${ids[1]}`,
    headers: platform.as("auditor"),
  });
  t.equal(res.statusCode, 200);
  const page = res.json() as {
    items: { op: string; before: { city: string | null } | null; after: { city: string } }[];
  };
  t.same(
    page.items.map((r) => r.op),
    ["INSERT", "UPDATE"],
  );
  t.equal(page.items[1]?.after.city, "Köln");
  const reads = await pool.query(
    "SELECT actor_id, after FROM audit.records WHERE op = 'READ' ORDER BY id DESC LIMIT 1",
  );
  t.equal(reads.rows[0]?.actor_id, platform.userId("auditor"));
  t.equal(reads.rows[0]?.after.entity, "erp.customers");
});

t.test("export as JSON lines and CSV, over HTTP and the CLI", async (t) => {
  const to = new Date(Date.now() + 60_000).toISOString();
  const jsonl = await app.inject({
    method: "GET",
    url: `/api/v1/audit/export?from=${start}&to=${to}&format=jsonl`,
    headers: platform.as("auditor"),
  });
  t.equal(jsonl.statusCode, 200);
  t.match(jsonl.headers["content-type"], /application\/jsonl/);
  const lines = jsonl.body
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { op: string; entityId: string; hash: string });
  t.ok(lines.length >= 6, "inserts, update, direct updates, the read");
  t.ok(lines.some((r) => r.entityId === ids[2] && r.op === "INSERT"));
  const csv = await app.inject({
    method: "GET",
    url: `/api/v1/audit/export?from=${start}&to=${to}&format=csv`,
    headers: platform.as("admin"),
  });
  t.equal(csv.statusCode, 200);
  t.match(csv.body, /^id,chain,at,schema,table,entityId,op,actorId,/);
  t.match(
    csv.body,
    /,"\{""id"":""[0-9a-f-]+"",""city"":null,""kind"":""business"",""name"":""Alpha, \\""quoted\\"" GmbH""/,
    "RFC 4180 quoting",
  );
  const cliCsv = cli("export", "--from", start, "--to", to, "--format", "csv");
  t.equal(cliCsv.status, 0, cliCsv.stderr);
  t.ok(cliCsv.stdout.startsWith("id,chain,at,schema,table,"));
  const cliJsonl = cli("export", "--from", start, "--to", to);
  t.equal(cliJsonl.status, 0, cliJsonl.stderr);
  t.ok(cliJsonl.stdout.trim().split("\n").length >= lines.length, "the CLI's JSON lines");
  t.equal(cli("export", "--from", start).status, 2, "export needs --to");
});

t.test("tampering as superuser (trigger disabled) is found by audit verify", async (t) => {
  const ok = cli("verify");
  t.equal(ok.status, 0, ok.stderr);
  t.equal((JSON.parse(ok.stdout) as { ok: boolean }).ok, true);
  // enough records that the victim's chain (of 16) continues after it
  for (let i = 0; i < 40; i++) await pool.query("INSERT INTO erp.customers (name) VALUES ($1)", [`Filler ${i}`]);
  const victim = (
    await pool.query<{ id: string }>(
      `SELECT r.id FROM audit.records r WHERE r.entity_id = $1 AND r.op = 'UPDATE'
         AND EXISTS (SELECT 1 FROM audit.records n WHERE n.chain = r.chain AND n.id > r.id)`,
      [ids[1]],
    )
  ).rows[0]?.id as string;
  t.ok(victim, "a record with a successor in its chain");
  const tamper = async (sql: string) => {
    const client = await pool.connect();
    try {
      await client.query("ALTER TABLE audit.records DISABLE TRIGGER records_append_only");
      await client.query(sql, [victim]);
      await client.query("ALTER TABLE audit.records ENABLE TRIGGER records_append_only");
    } finally {
      client.release();
    }
  };
  await tamper("UPDATE audit.records SET after = jsonb_set(after, '{city}', '\"Bonn\"') WHERE id = $1");
  const broken = cli("verify");
  t.equal(broken.status, 1, "exit code 1");
  const report = JSON.parse(broken.stdout) as { ok: boolean; broken: { id: number; reason: string }; code: string };
  t.equal(report.ok, false);
  t.equal(report.code, "HUB_ERR_AUDIT_CHAIN_BROKEN");
  t.equal(report.broken.id, Number(victim), "names the changed record");
  t.match(report.broken.reason, /content does not match its hash/);

  // A careful forger also rehashes the row: then the next link breaks.
  await tamper(
    `UPDATE audit.records SET hash = audit.record_hash(id, chain, at, schema_name, table_name, entity_id, op, actor_id,
       actor_name, request_id, reason, tags, before, after, prev_hash) WHERE id = $1`,
  );
  const relinked = await verifyAuditChain(pool);
  t.equal(relinked.ok, false);
  t.ok((relinked.broken?.id ?? 0) > Number(victim), "the next record's prev_hash no longer matches");
  t.match(relinked.broken?.reason, new RegExp(`not the hash of record ${victim} `));

  // A removed record breaks the chain as well (verify over a range that starts before it).
  await tamper("DELETE FROM audit.records WHERE id = $1");
  const removed = await verifyAuditChain(pool, { from: start });
  t.equal(removed.ok, false);
  t.match(removed.broken?.reason, /removed/);
  const http = await app.inject({ method: "GET", url: "/api/v1/audit/verify", headers: platform.as("auditor") });
  t.equal((http.json() as { ok: boolean }).ok, false, "GET /audit/verify reports it too");
});

t.test("concurrent transactions chain correctly (all 16 chains)", async (t) => {
  const before = (await pool.query<{ n: string }>("SELECT count(*) AS n FROM audit.records")).rows[0]?.n;
  await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      app.inject({ method: "POST", url: "/api/v1/customers", headers: office, payload: { name: `Parallel ${i}` } }),
    ),
  );
  const after = (await pool.query<{ n: string }>("SELECT count(*) AS n FROM audit.records")).rows[0]?.n;
  t.equal(Number(after) - Number(before), 40);
  const fromNow = await pool.query<{ at: Date }>(
    "SELECT min(at) AS at FROM audit.records WHERE after->>'name' LIKE 'Parallel %'",
  );
  const check = await verifyAuditChain(pool, { from: (fromNow.rows[0] as { at: Date }).at.toISOString() });
  t.same(check.ok, true, "40 concurrent inserts form unbroken chains");
  const chains = await pool.query<{ n: number }>("SELECT count(DISTINCT chain)::int AS n FROM audit.records");
  t.ok((chains.rows[0]?.n ?? 0) > 1, "spread over several chains");
});
