/**
 * Schema migrations against a real PostgreSQL: up, down and up again leave an identical catalog;
 * `plan` runs nothing; `--to`; changed files are refused; the CLI.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import t from "tap";
import {
  MIGRATIONS_DIR,
  migrate,
  migrationStatus,
  planMigrations,
  readMigrations,
  rollback,
} from "../src/db/migrate.js";
import { runMigrateCommand } from "../src/db/migrate-cli.js";
import { openPool } from "../src/db/pool.js";
import { catalogDump } from "./fixtures/catalog.js";
import { startTestPostgres } from "./fixtures/postgres.js";

const log = pino({ level: process.env.LOG_LEVEL ?? "silent" });
const dataDir = mkdtempSync(join(tmpdir(), "hub-migrate-"));
chmodSync(dataDir, 0o755);
const db = await startTestPostgres(join(dataDir, "db"), log);
t.teardown(() => db.stop());
const pool = openPool({ connectionString: db.url, max: 3 }, log);
t.teardown(() => pool.end());

const all = readMigrations();
const latest = all[all.length - 1]?.version as number;

/** Runs the CLI command in-process; returns its exit code and output. */
async function cli(...argv: string[]) {
  let out = "";
  let err = "";
  const code = await runMigrateCommand(argv, pool, log, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

t.test("every migration has a down file", async (t) => {
  t.ok(all.length >= 4);
  for (const m of all) t.type(m.down, "string", `${String(m.version).padStart(4, "0")}_${m.name}.down.sql`);
});

t.test("plan on a fresh database prints the SQL and changes nothing", async (t) => {
  const before = await catalogDump(pool);
  const plan = await cli("plan", "up");
  t.equal(plan.code, 0);
  t.match(plan.out, "-- up 0001_raw_readings\nBEGIN;\n-- Telemetry as the edges deliver it");
  t.match(plan.out, "-- up 0004_auth\nBEGIN;");
  t.match(plan.out, "CREATE ROLE");
  t.same(await catalogDump(pool), before, "catalog unchanged");
  t.equal((await pool.query("SELECT to_regclass('ops.schema_migrations') AS r")).rows[0].r, null, "no ledger created");
  const status = await cli("status");
  t.match(status.out, /0001_raw_readings\s+pending/);
});

let dumpEmpty: Record<string, unknown[]>;
let dumpV1: Record<string, unknown[]>;
let dumpAll: Record<string, unknown[]>;

t.test("up --to, up, status", async (t) => {
  t.same(await migrate(pool, log, { to: 0 }), [], "--to 0 applies nothing (creates the ledger)");
  dumpEmpty = await catalogDump(pool);
  t.same(await migrate(pool, log, { to: 1 }), [1]);
  dumpV1 = await catalogDump(pool);
  const up = await cli("up");
  t.equal(up.code, 0, up.err);
  t.same(
    JSON.parse(up.out).applied,
    all.slice(1).map((m) => m.version),
  );
  dumpAll = await catalogDump(pool);
  const states = await migrationStatus(pool);
  t.same(
    states.map((s) => s.state),
    all.map(() => "applied"),
  );
  t.same(await migrate(pool, log), [], "nothing left to apply");
  t.ok(
    (dumpAll.schemas as string[]).some((s) => s.includes('"audit"')),
    "schemas of the data plan exist",
  );
});

t.test("plan down shows the rollback SQL newest first and runs nothing", async (t) => {
  const plan = await cli("plan", "down", "--to", "1");
  t.equal(plan.code, 0, plan.err);
  const order = [...plan.out.matchAll(/^-- down (\d{4})_/gm)].map((m) => Number(m[1]));
  t.same(
    order,
    all
      .slice(1)
      .map((m) => m.version)
      .reverse(),
  );
  t.match(plan.out, "DROP SCHEMA auth;");
  t.match(plan.out, "DELETE FROM ops.schema_migrations WHERE version = 2;");
  t.same(await catalogDump(pool), dumpAll, "catalog unchanged");
  const one = await planMigrations(pool, "down");
  t.same(
    one.map((s) => s.version),
    [latest],
    "down without --to rolls back the newest only",
  );
});

t.test("down --to 1 restores version 1 exactly, with the readings", async (t) => {
  await pool.query("INSERT INTO raw.edges (edge_id) VALUES ('e1')");
  await pool.query("INSERT INTO raw.series (edge_id, device_id, point) VALUES ('e1', 'inv', 'active_power')");
  await pool.query(
    "INSERT INTO raw.readings (series_id, seq, ts, value, quality, clock_synced) SELECT series_id, 7, '2026-01-01T00:00:00Z', 42, 1, true FROM raw.series",
  );
  const down = await cli("down", "--to", "1");
  t.equal(down.code, 0, down.err);
  t.same(
    JSON.parse(down.out).rolledBack,
    all
      .slice(1)
      .map((m) => m.version)
      .reverse(),
  );
  await pool
    .query("DELETE FROM raw.readings RETURNING edge_id, seq, value")
    .then((r) =>
      t.same(r.rows, [{ edge_id: "e1", seq: "7", value: 42 }], "the reading carried back to the version-1 table"),
    );
  await pool.query("DELETE FROM raw.edges");
  t.same(await catalogDump(pool), dumpV1, "identical to the schema right after 0001");
  t.same(
    await migrate(pool, log),
    all.slice(1).map((m) => m.version),
  );
  t.same(await catalogDump(pool), dumpAll, "up again: identical to before");
});

t.test("up, down to nothing, up again leaves an identical schema", async (t) => {
  t.same(await rollback(pool, log, { to: 0 }), all.map((m) => m.version).reverse());
  t.same(await catalogDump(pool), dumpEmpty, "down to 0: only the ledger is left");
  t.equal(
    (await pool.query("SELECT count(*)::int AS n FROM pg_roles WHERE rolname LIKE 'steinmetz%'")).rows[0].n,
    0,
    "the group roles are gone (nothing else used them)",
  );
  await migrate(pool, log);
  t.same(await catalogDump(pool), dumpAll);
});

t.test("a changed applied file is refused; a changed down file refuses down", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "hub-migrations-"));
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  writeFileSync(join(dir, "0001_raw_readings.up.sql"), `${all[0]?.up}\n-- edited\n`);
  const changed = readMigrations(dir);
  const status = await migrationStatus(pool, changed);
  t.equal(status[0]?.state, "changed");
  await t.rejects(migrate(pool, log, { migrations: changed }), { code: "HUB_ERR_MIGRATION_CHANGED" });
  await t.rejects(rollback(pool, log, { migrations: changed }), { code: "HUB_ERR_MIGRATION_CHANGED" });
  await t.rejects(planMigrations(pool, "up", { migrations: changed }), { code: "HUB_ERR_MIGRATION_CHANGED" });
  const refused = await runMigrateCommand(["up"], pool, log, { out: () => {}, err: () => {} }, changed);
  t.equal(refused, 1);

  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  const last = all[all.length - 1] as (typeof all)[number];
  const downFile = `${String(last.version).padStart(4, "0")}_${last.name}.down.sql`;
  writeFileSync(join(dir, downFile), `${last.down}\n-- edited\n`);
  const downChanged = readMigrations(dir);
  t.match((await migrationStatus(pool, downChanged)).at(-1), { state: "applied", downChanged: true });
  await t.rejects(rollback(pool, log, { migrations: downChanged }), { code: "HUB_ERR_MIGRATION_CHANGED" });
  t.same(await migrate(pool, log, { migrations: downChanged }), [], "up is not affected by a down file");
  t.same(await catalogDump(pool), dumpAll, "nothing changed");
});

t.test("hubs starting together: migrations and the catalog's grants apply once, none fails", async (t) => {
  await migrate(pool, log);
  // separate pools, as separate hub processes have
  const pools = Array.from({ length: 4 }, () => openPool({ connectionString: db.url, max: 2 }, log));
  t.teardown(() => Promise.all(pools.map((p) => p.end())));
  for (let round = 0; round < 3; round++) {
    const results = await Promise.allSettled(pools.map((p) => migrate(p, log)));
    t.same(
      results.map((r) => (r.status === "fulfilled" ? "ok" : String((r.reason as Error).message))),
      ["ok", "ok", "ok", "ok"],
      `round ${round + 1}`,
    );
  }
});

t.test("bad arguments exit 2", async (t) => {
  t.equal((await cli("down", "--to", "x")).code, 2);
  t.equal((await cli("plan", "sideways")).code, 2);
  t.equal((await cli("frobnicate")).code, 2);
});

t.test("npm run hub -- migrate status (the real command, on DATABASE_URL)", async (t) => {
  const res = spawnSync(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "../src/main.ts"), "migrate", "status"],
    { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: "warn" }, encoding: "utf8", timeout: 60_000 },
  );
  t.equal(res.status, 0, res.stderr);
  t.match(res.stdout, /0004_auth\s+applied/);
});
