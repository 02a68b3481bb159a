/**
 * `npm run bench -- saga`: completed five-step local sagas per second — each step one INSERT in
 * its own transaction with the coordinator's record of it — with one and with two coordinators
 * (each with its own connection pool, as two hub processes would have), next to two baselines on
 * the same PostgreSQL server in the same run:
 * - the same five steps as plain transactions on 16 connections, without a coordinator;
 * - the same five steps as a DBOS Transact workflow (`@dbos-inc/dbos-sdk`, a dev dependency), 16
 *   at once: each step one INSERT in its own transaction on a pg pool of the application
 *   database, run as a DBOS step (`DBOS.runStep`), which DBOS checkpoints in its system database
 *   (`dbos_sys` on the same server) after the step's transaction. DBOS's transactional data
 *   sources, which would put the checkpoint in the step's transaction, are separate packages the
 *   project does not have.
 * The dispatcher (scripts/bench.ts) prints the coordinator against the plain transactions and
 * the absolute target; the comparison with DBOS is printed here, in the same format.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DBOS } from "@dbos-inc/dbos-sdk";
import type pg from "pg";
import pino from "pino";
import { startEmbeddedPostgres } from "../hub/src/db/embedded-postgres.js";
import { migrate } from "../hub/src/db/migrate.js";
import { openPool } from "../hub/src/db/pool.js";
import { Coordinator } from "../hub/src/sagas/coordinator.js";
import { defineSaga, type SagaDefinition } from "../hub/src/sagas/definition.js";
import { startSaga } from "../hub/src/sagas/repository.js";

const SAGAS = Number(process.env.BENCH_SAGAS ?? 2000);
const STEPS = ["one", "two", "three", "four", "five"];

/** What the saga benchmark measured (sagas completed per second). */
export interface SagaBenchResult {
  sagas: number;
  oneProcess: number;
  twoProcesses: number;
  plain: number;
  /** The same five steps as a DBOS Transact workflow, workflows completed per second. */
  dbos: number;
}

/** How many sagas, transactions or workflows run at once in the baselines. */
const AT_ONCE = 16;

const saga = defineSaga<Record<string, never>>({
  type: "bench-five",
  version: 1,
  steps: STEPS.map((name) => ({
    name,
    async action(tx, _input, ctx) {
      await tx.query("INSERT INTO erp.bench_effects (saga_id, step) VALUES ($1, $2)", [ctx.sagaId, name]);
      return null;
    },
  })),
});

async function completed(pool: pg.Pool, prefix: string): Promise<number> {
  const { rows } = await pool.query(
    "SELECT count(*)::int AS n FROM saga.instances WHERE idempotency_key LIKE $1 AND state = 'completed'",
    [`${prefix}%`],
  );
  return rows[0].n;
}

/** Starts the sagas, then runs `processes` coordinators until all completed; sagas per second. */
async function run(url: string, owner: pg.Pool, processes: number, prefix: string): Promise<number> {
  const log = pino({ level: "silent" });
  for (let i = 0; i < SAGAS; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, SAGAS - i) }, (_, j) =>
        startSaga(owner, { type: saga.type, version: 1, key: `${prefix}${i + j}`, input: {}, startedBy: "bench" }),
      ),
    );
  }
  const pools = Array.from({ length: processes }, () => openPool({ connectionString: url, max: 18 }, log));
  const coordinators = pools.map(
    (pool) => new Coordinator(pool, { definitions: [saga as SagaDefinition<never>], log, concurrency: 16, pollMs: 20 }),
  );
  const started = performance.now();
  await Promise.all(coordinators.map((c) => c.start()));
  const deadline = Date.now() + 600_000;
  while ((await completed(owner, prefix)) < SAGAS) {
    if (Date.now() > deadline) throw new Error("sagas did not complete within 10 minutes");
    await new Promise((r) => setTimeout(r, 50));
  }
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(coordinators.map((c) => c.stop()));
  await Promise.all(pools.map((p) => p.end()));
  return SAGAS / seconds;
}

/** The same five steps as plain transactions (one INSERT each) on 16 connections. */
async function plain(pool: pg.Pool): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: AT_ONCE }, async () => {
      const client = await pool.connect();
      try {
        while (next < SAGAS) {
          const id = crypto.randomUUID();
          next++;
          for (const step of STEPS) {
            await client.query("BEGIN");
            await client.query("INSERT INTO erp.bench_effects (saga_id, step) VALUES ($1, $2)", [id, step]);
            await client.query("COMMIT");
          }
        }
      } finally {
        client.release();
      }
    }),
  );
  return SAGAS / ((performance.now() - started) / 1000);
}

/** One INSERT in a transaction of its own on `pool`. */
async function insertInTransaction(pool: pg.Pool, id: string, step: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("INSERT INTO erp.bench_effects (saga_id, step) VALUES ($1, $2)", [id, step]);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * The same five steps as a DBOS Transact workflow, BENCH_SAGAS of them, 16 at once; its system
 * database is `systemUrl` (on the same server). Workflows completed per second.
 */
async function dbos(url: string, systemUrl: string): Promise<number> {
  const log = pino({ level: "silent" });
  const app = openPool({ connectionString: url, max: AT_ONCE + 2 }, log);
  const quiet = (entry: unknown) =>
    process.stderr.write(`DBOS: ${entry instanceof Error ? entry.message : String(entry)}\n`);
  DBOS.setConfig({
    name: "bench-saga",
    systemDatabaseUrl: systemUrl,
    // the coordinator's pool in this benchmark has as many connections
    systemDatabasePoolSize: AT_ONCE + 2,
    logger: { info: () => undefined, debug: () => undefined, warn: quiet, error: quiet },
  });
  const workflow = DBOS.registerWorkflow(
    async (id: string) => {
      for (const step of STEPS) await DBOS.runStep(() => insertInTransaction(app, id, step), { name: step });
    },
    { name: "benchFive" },
  );
  const fifth = async () =>
    (await app.query("SELECT count(*)::int AS n FROM erp.bench_effects WHERE step = 'five'")).rows[0].n as number;
  const before = await fifth();
  await DBOS.launch();
  try {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: AT_ONCE }, async () => {
        while (next < SAGAS) {
          next++;
          await workflow(crypto.randomUUID());
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const done = (await fifth()) - before;
    if (done !== SAGAS) throw new Error(`DBOS completed ${done} of ${SAGAS} workflows`);
    return SAGAS / seconds;
  } finally {
    await DBOS.shutdown();
    await app.end();
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** The coordinator against DBOS Transact, in the format of the dispatcher's other lines. */
function printAgainstDbos(r: SagaBenchResult): void {
  const target = 5;
  for (const [name, value] of [
    ["one coordinator", r.oneProcess],
    ["two coordinators (two pools, as two hub processes)", r.twoProcesses],
  ] as const) {
    const ratio = value / r.dbos;
    process.stdout.write(
      `${fmt(r.sagas)} five-step local sagas, ${name} (completed per second): ${fmt(value)} vs the same five steps as DBOS Transact workflows, ${AT_ONCE} at once, each step one INSERT in its own transaction as a DBOS step ${fmt(r.dbos)} -> ratio ${ratio.toFixed(2)} (target >= ${target}: ${ratio >= target ? "met" : "MISSED"})\n`,
    );
  }
}

export async function benchSaga(): Promise<SagaBenchResult> {
  const log = pino({ level: "silent" });
  const dir = mkdtempSync(join(tmpdir(), "bench-saga-"));
  chmodSync(dir, 0o755);
  const db = await startEmbeddedPostgres(join(dir, "db"), log);
  const owner = openPool({ connectionString: db.url, max: 18 }, log);
  try {
    await migrate(owner, log);
    await owner.query(
      "CREATE TABLE erp.bench_effects (saga_id uuid NOT NULL, step text NOT NULL, PRIMARY KEY (saga_id, step))",
    );
    // DBOS's system database, on the same server
    await owner.query("CREATE DATABASE dbos_sys");
    const systemUrl = new URL(db.url);
    systemUrl.pathname = "/dbos_sys";
    const plainRate = await plain(owner);
    const oneProcess = await run(db.url, owner, 1, "one-");
    const twoProcesses = await run(db.url, owner, 2, "two-");
    const dbosRate = await dbos(db.url, systemUrl.toString());
    const result = { sagas: SAGAS, oneProcess, twoProcesses, plain: plainRate, dbos: dbosRate };
    printAgainstDbos(result);
    return result;
  } finally {
    await owner.end();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
