/**
 * The database roles of the access layers (migration 0003): login roles that are members of each
 * group are allowed what their layer needs and refused everything else.
 */
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import pino from "pino";
import t from "tap";
import { migrate } from "../src/db/migrate.js";
import { openPool } from "../src/db/pool.js";
import { startTestPostgres } from "./fixtures/postgres.js";

const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });
const dataDir = mkdtempSync(join(tmpdir(), "hub-roles-"));
chmodSync(dataDir, 0o755);
const db = await startTestPostgres(join(dataDir, "db"), log);
t.teardown(() => db.stop());
const owner = openPool({ connectionString: db.url, max: 2 }, log);
t.teardown(() => owner.end());
await migrate(owner, log);

// Tables created after the migrations by the migration owner: default privileges must cover them.
await owner.query(`
  CREATE TABLE staging.t (x int);
  CREATE TABLE curated.t (x int);
  CREATE TABLE serving.t (x int);
  CREATE TABLE erp.t (id int GENERATED ALWAYS AS IDENTITY, x int);
  CREATE TABLE saga.t (x int);
  CREATE TABLE audit.t (x int);
  INSERT INTO curated.t VALUES (1); INSERT INTO serving.t VALUES (1); INSERT INTO audit.t VALUES (1);
  INSERT INTO raw.edges (edge_id) VALUES ('e1')`);

const GROUPS = ["integration", "analyst", "app", "auditor"] as const;
type Group = (typeof GROUPS)[number];
const clients = {} as Record<Group, pg.Client>;
for (const group of GROUPS) {
  await owner.query(`CREATE ROLE t_${group} LOGIN PASSWORD 'pw-${group}' IN ROLE steinmetz_${group}`);
  const url = new URL(db.url);
  url.username = `t_${group}`;
  url.password = `pw-${group}`;
  const client = new pg.Client(url.toString());
  await client.connect();
  t.teardown(() => client.end());
  clients[group] = client;
}

/** Runs `sql` as the group's login role in a transaction that is rolled back: null if allowed, else the SQLSTATE. */
async function attempt(group: Group, sql: string): Promise<string | null> {
  const c = clients[group];
  await c.query("BEGIN");
  try {
    await c.query(sql);
    return null;
  } catch (err) {
    return (err as { code: string }).code;
  } finally {
    await c.query("ROLLBACK");
  }
}

const DENIED = "42501";
const table: [Group, string, boolean][] = [
  // integration: the ingest path into raw, nothing else
  ["integration", "SELECT * FROM raw.readings", true],
  ["integration", "INSERT INTO raw.edges (edge_id) VALUES ('e2')", true],
  ["integration", "INSERT INTO raw.series (edge_id, device_id, point) VALUES ('e1', 'd', 'p')", true],
  ["integration", "UPDATE raw.edges SET last_seen_at = now() WHERE edge_id = 'e1'", true],
  ["integration", "SELECT raw.ensure_readings_partition('2030-01-01')", true],
  ["integration", "DELETE FROM raw.edges", false],
  ["integration", "UPDATE raw.readings SET value = 0", false],
  ["integration", "TRUNCATE raw.readings", false],
  ["integration", "SELECT * FROM erp.t", false],
  ["integration", "SELECT * FROM curated.t", false],
  ["integration", "SELECT * FROM auth.users", false],
  ["integration", "CREATE TABLE raw.x (x int)", false],
  // analyst: reads curated only
  ["analyst", "SELECT * FROM curated.t", true],
  ["analyst", "INSERT INTO curated.t VALUES (2)", false],
  ["analyst", "SELECT * FROM raw.readings", false],
  ["analyst", "SELECT * FROM staging.t", false],
  ["analyst", "SELECT * FROM serving.t", false],
  ["analyst", "SELECT * FROM audit.t", false],
  // app: reads serving, works in erp/saga/ops/auth, appends to audit
  ["app", "SELECT * FROM serving.t", true],
  ["app", "INSERT INTO serving.t VALUES (2)", false],
  ["app", "INSERT INTO erp.t (x) VALUES (1)", true],
  ["app", "UPDATE erp.t SET x = 2", true],
  ["app", "DELETE FROM erp.t", true],
  ["app", "INSERT INTO saga.t VALUES (1)", true],
  ["app", "SELECT count(*) FROM auth.users", true],
  ["app", "SELECT * FROM ops.schema_migrations", true],
  ["app", "DELETE FROM ops.schema_migrations", false],
  ["app", "INSERT INTO audit.t VALUES (2)", true],
  ["app", "UPDATE audit.t SET x = 3", false],
  ["app", "DELETE FROM audit.t", false],
  ["app", "TRUNCATE erp.t", false],
  ["app", "DROP TABLE erp.t", false],
  ["app", "DROP TABLE audit.t", false],
  ["app", "ALTER TABLE erp.t ADD COLUMN y int", false],
  ["app", "DROP SCHEMA erp CASCADE", false],
  ["app", "SELECT * FROM raw.readings", false],
  ["app", "SELECT * FROM curated.t", false],
  ["app", "CREATE TABLE erp.x (x int)", false],
  // auditor: reads audit only
  ["auditor", "SELECT * FROM audit.t", true],
  ["auditor", "UPDATE audit.t SET x = 3", false],
  ["auditor", "INSERT INTO audit.t VALUES (3)", false],
  ["auditor", "DELETE FROM audit.t", false],
  ["auditor", "SELECT * FROM erp.t", false],
  ["auditor", "SELECT * FROM auth.users", false],
  ["auditor", "SELECT * FROM raw.readings", false],
];

t.test("each group role is allowed and refused what its layer says", async (t) => {
  for (const [group, sql, allowed] of table) {
    const code = await attempt(group, sql);
    if (allowed) t.equal(code, null, `${group} may: ${sql}`);
    else t.equal(code, DENIED, `${group} may not: ${sql}`);
  }
});

t.test("nobody but the owner creates or alters anything in audit (or any layer)", async (t) => {
  for (const group of GROUPS) {
    for (const schema of ["raw", "staging", "curated", "serving", "erp", "saga", "audit", "ops", "auth", "public"]) {
      t.equal(
        await attempt(group, `CREATE TABLE ${schema}.x_${group} (x int)`),
        DENIED,
        `${group}: CREATE in ${schema}`,
      );
    }
    t.equal(await attempt(group, "ALTER TABLE audit.t ADD COLUMN y int"), DENIED, `${group}: ALTER audit.t`);
  }
});

t.test("the migration is idempotent for existing roles, and down keeps roles that are still used", async (t) => {
  // A second database of the same cluster migrates too: the roles exist already.
  await owner.query("CREATE DATABASE second");
  const second = openPool({ connectionString: db.url.replace(/\/[^/]*$/, "/second"), max: 2 }, log);
  t.teardown(() => second.end());
  t.same((await migrate(second, log)).slice(0, 4), [1, 2, 3, 4]);
  const { rollback } = await import("../src/db/migrate.js");
  await rollback(second, log, { to: 2 });
  const roles = await owner.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'steinmetz\\_%' ORDER BY 1");
  t.same(
    roles.rows.map((r) => r.rolname),
    ["steinmetz_analyst", "steinmetz_app", "steinmetz_auditor", "steinmetz_integration"],
    "the first database still uses them",
  );
  t.equal(await attempt("analyst", "SELECT * FROM curated.t"), null, "and its grants are intact");
});

t.test("the hub runs as its own least-privilege role, provisioned at start", async (t) => {
  const { startHub } = await import("../src/hub.js");
  const start = (dir: string) =>
    startHub({ databaseUrl: db.url, dataDir: join(dataDir, dir), httpPort: 0, grpcPort: 0, insecureDev: true, log });
  const hub = await start("hub-1");
  t.teardown(() => hub.close());
  const who = await hub.pool.query(
    "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = current_user",
  );
  t.same(
    who.rows[0],
    {
      rolname: "steinmetz_hub_steinmetz",
      rolsuper: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolbypassrls: false,
    },
    "a login role of its own, without attributes",
  );
  const groups = await hub.pool.query(
    `SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
     WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user) ORDER BY 1`,
  );
  t.same(
    groups.rows.map((r) => r.rolname),
    ["steinmetz_app", "steinmetz_integration"],
    "a member of the app and integration layers only",
  );
  for (const sql of [
    "DROP TABLE erp.customers",
    "UPDATE audit.records SET actor_id = 'x'",
    "INSERT INTO audit.chain_head VALUES (99, 0, 'x')",
    "TRUNCATE raw.readings",
    "CREATE TABLE erp.x (x int)",
    "DELETE FROM ops.schema_migrations",
    "SELECT * FROM curated.t",
    "CREATE ROLE x",
    "UPDATE auth.failed_attempts SET at = now()",
  ]) {
    const client = await hub.pool.connect();
    await client.query("BEGIN");
    const code = await client.query(sql).then(
      () => null,
      (err: { code: string }) => err.code,
    );
    await client.query("ROLLBACK");
    client.release();
    t.equal(code, DENIED, `refused: ${sql}`);
  }
  // What the runtime role does write: a failed login is counted (auth.failed_attempts).
  const before = (await owner.query("SELECT count(*)::int n FROM auth.failed_attempts")).rows[0].n;
  const refused = await fetch(`${hub.httpUrl}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: "nobody@example.com", password: "not the password" }),
  });
  t.equal(refused.status, 401);
  t.equal(
    (await owner.query("SELECT count(*)::int n FROM auth.failed_attempts")).rows[0].n,
    before + 2,
    "the failed login counted per address and per e-mail",
  );
  // A second hub on the same database derives the same password: the first one's new
  // connections still log in.
  const second = await start("hub-2");
  t.teardown(() => second.close());
  const clients = await Promise.all(Array.from({ length: 10 }, () => hub.pool.connect()));
  t.equal(hub.pool.totalCount, 10, "ten connections, new ones among them");
  for (const client of clients) client.release();
  t.equal((await second.pool.query("SELECT current_user AS u")).rows[0].u, "steinmetz_hub_steinmetz");
});

t.test("HUB_APP_DATABASE_URL: the hub runs as the operator's role", async (t) => {
  const { startHub } = await import("../src/hub.js");
  await owner.query("CREATE ROLE t_hub_app LOGIN PASSWORD 'pw-hub-app' IN ROLE steinmetz_app, steinmetz_integration");
  const url = new URL(db.url);
  url.username = "t_hub_app";
  url.password = "pw-hub-app";
  const hub = await startHub({
    databaseUrl: db.url,
    appDatabaseUrl: url.toString(),
    dataDir: join(dataDir, "hub-3"),
    httpPort: 0,
    grpcPort: 0,
    insecureDev: true,
    log,
  });
  t.teardown(() => hub.close());
  t.equal((await hub.pool.query("SELECT current_user AS u")).rows[0].u, "t_hub_app");
  t.equal((await fetch(`${hub.httpUrl}/readyz`)).status, 200, "and is ready");
});
