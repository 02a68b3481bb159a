/**
 * `npm run bench -- saga`: completed five-step local sagas per second — each step one INSERT in
 * its own transaction with the coordinator's record of it — with one and with two coordinators
 * (each with its own connection pool, as two hub processes would have), next to the same five
 * steps as plain transactions on 16 connections, without a coordinator, on the same PostgreSQL.
 * DBOS Transact is not measured here (it is not a dependency of the project yet).
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
}

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
    Array.from({ length: 16 }, async () => {
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
    const plainRate = await plain(owner);
    const oneProcess = await run(db.url, owner, 1, "one-");
    const twoProcesses = await run(db.url, owner, 2, "two-");
    return { sagas: SAGAS, oneProcess, twoProcesses, plain: plainRate };
  } finally {
    await owner.end();
    await db.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
