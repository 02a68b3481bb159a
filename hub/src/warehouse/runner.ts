import { randomUUID } from "node:crypto";
import type pg from "pg";
import type { Logger } from "pino";
import { inWindow, WAREHOUSE_JOBS, type WarehouseJob, type WindowKind } from "./jobs.js";
import { syncPoints } from "./points.js";
import type { ReadPlan } from "./samples.js";

/** A run as its hooks see it. */
export interface RunContext {
  runId: string;
  job: WarehouseJob;
  kind: WindowKind;
  /** xids (incremental) or ISO times (backfill). */
  window: { from: string; to: string };
  startedAt: Date;
  readings?: number;
  series?: number;
  /** How a raw job read its samples. */
  plan?: ReadPlan;
  rowsWritten?: number;
}

/**
 * What a run does besides loading, each in the run's own transaction (so it happens exactly when
 * the run's outcome is recorded):
 * - `afterLoad`, after the job's statement: the data-quality rules of its outputs; names of failed
 *   rules of severity `error` block the jobs downstream of it in this pass (they say why);
 * - `lineage`, with the outcome: the run's events (a failed run's in the transaction that records
 *   the failure).
 */
export interface RunHooks {
  afterLoad?(tx: pg.PoolClient, run: RunContext): Promise<{ blocking: string[] }>;
  lineage?(tx: pg.PoolClient, run: RunContext, outcome: "COMPLETE" | "FAIL", error?: unknown): Promise<void>;
}

/** What one job did in a run. */
export interface JobRun {
  job: string;
  runId: string | null;
  status: "succeeded" | "failed" | "skipped";
  /**
   * Why it was skipped: another process runs it, it waits after a failure, nothing new, an
   * upstream job failed or a rule of severity error failed on an upstream output (`blockedBy`).
   */
  reason?: "busy" | "backoff" | "up to date" | "upstream failed" | "blocked";
  /** The failed rules that blocked it, or that its own outputs failed (they block its downstream). */
  blockedBy?: string[];
  window?: { from: string; to: string };
  rowsWritten?: number;
  ms?: number;
  error?: string;
}

/** Rows a statement (or each of several, sent as one text) inserted, updated or deleted. */
const rowsOf = (result: pg.QueryResult | pg.QueryResult[]) =>
  (Array.isArray(result) ? result : [result]).reduce((n, r) => n + (r.rowCount ?? 0), 0);

const errorJson = (err: unknown) => {
  const e = err as { message?: string; code?: string };
  return { message: String(e?.message ?? err).slice(0, 2000), code: e?.code ?? null };
};

/** What a window changed: the parameters of a raw job's statement, its counts and read plan. */
interface WindowChanges {
  params: [number[], string[], string[]];
  readings: number;
  series: number;
  plan: ReadPlan;
}

/** A pass's windows, measured once for the jobs that share them. */
type WindowCache = Map<string, Promise<WindowChanges>>;

/**
 * The series a window changed (the first and last reading time touched in each) and how to read
 * their samples: `scan` when the window holds at least a fifth of the rows the partitions it
 * spans hold (by the planner's statistics), else `seek`. A window of xids is the same set of rows
 * in every later snapshot (they committed before the snapshot that chose it), so jobs with the
 * same window share one measurement.
 */
async function windowChanges(
  client: pg.PoolClient,
  kind: WindowKind,
  window: { from: string; to: string },
  cache: WindowCache,
): Promise<WindowChanges> {
  const key = `${kind}:${window.from}:${window.to}`;
  let changes = cache.get(key);
  if (!changes) {
    changes = measureWindow(client, kind, window);
    cache.set(key, changes);
    // a failed measurement is not kept: the next job measures again
    changes.catch(() => cache.delete(key));
  }
  return changes;
}

async function measureWindow(
  client: pg.PoolClient,
  kind: WindowKind,
  window: { from: string; to: string },
): Promise<WindowChanges> {
  const { rows } = await client.query(
    `WITH ch AS (
       SELECT r.series_id, min(r.ts) AS a, max(r.ts) AS b, count(*) AS n FROM raw.readings r
       WHERE ${inWindow(kind)} GROUP BY r.series_id
     ),
     parts AS (
       SELECT greatest(c.reltuples, 0) AS tuples, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'raw.readings'::regclass
     )
     SELECT coalesce(array_agg(series_id ORDER BY series_id), '{}') AS ids,
       coalesce(array_agg(a ORDER BY series_id)::text[], '{}') AS a, coalesce(array_agg(b ORDER BY series_id)::text[], '{}') AS b,
       coalesce(sum(n), 0)::bigint::text AS readings, count(*)::int AS series,
       (SELECT coalesce(sum(tuples), 0) FROM parts
        -- a bound reads FOR VALUES FROM ('<from>') TO ('<to>')
        WHERE CASE WHEN bound = 'DEFAULT' THEN true
          ELSE split_part(bound, '''', 2)::timestamptz <= (SELECT max(b) FROM ch)
            AND split_part(bound, '''', 4)::timestamptz > (SELECT min(a) FROM ch) END) AS spanned
     FROM ch`,
    [window.from, window.to],
  );
  const row = rows[0] as { ids: number[]; a: string[]; b: string[]; readings: string; series: number; spanned: number };
  const readings = Number(row.readings);
  return {
    params: [row.ids, row.a, row.b],
    readings,
    series: row.series,
    plan: readings * 5 >= Number(row.spanned) ? "scan" : "seek",
  };
}

/**
 * Runs one job on what was committed to raw since its watermark, in one transaction that holds
 * the job's row (FOR UPDATE SKIP LOCKED: several hub processes never run a job at once — the
 * others skip it as busy), loads the window [watermark, xmin of the snapshot), records the run and
 * moves the watermark. A failure rolls everything back, is recorded with its error and retried
 * after a backoff (30 s doubling per failure, at most an hour); the window stays where it was, so
 * nothing is skipped.
 */
async function runIncremental(
  client: pg.PoolClient,
  job: WarehouseJob,
  log: Logger,
  hooks: RunHooks,
  cache: WindowCache,
): Promise<JobRun> {
  const started = Date.now();
  const ctx: RunContext = {
    runId: randomUUID(),
    job,
    kind: "incremental",
    window: { from: "0", to: "0" },
    startedAt: new Date(),
  };
  await client.query("INSERT INTO ops.warehouse_jobs (job) VALUES ($1) ON CONFLICT DO NOTHING", [job.name]);
  await client.query("BEGIN");
  try {
    const { rows } = await client.query(
      `SELECT j.watermark::text, j.next_attempt_at <= now() AS due, pg_snapshot_xmin(pg_current_snapshot())::text AS xmin,
         j.changed_at IS NULL OR EXISTS (SELECT FROM ops.warehouse_jobs u WHERE u.job = ANY($2) AND u.changed_at > j.changed_at)
           AS upstream_changed
       FROM ops.warehouse_jobs j WHERE j.job = $1 FOR UPDATE OF j SKIP LOCKED`,
      [job.name, job.dependsOn],
    );
    const state = rows[0] as { watermark: string; due: boolean; xmin: string; upstream_changed: boolean } | undefined;
    const source = job.source ?? "raw";
    const upToDate =
      source === "raw"
        ? BigInt(state?.xmin ?? 0) <= BigInt(state?.watermark ?? 0)
        : source === "serving" && !state?.upstream_changed;
    if (!state || !state.due || upToDate) {
      await client.query("ROLLBACK");
      const reason = !state ? "busy" : !state.due ? "backoff" : "up to date";
      return { job: job.name, runId: null, status: "skipped", reason };
    }
    const window = { from: state.watermark, to: state.xmin };
    ctx.window = window;
    let changes: WindowChanges | undefined;
    if (source === "raw") {
      changes = await windowChanges(client, "incremental", window, cache);
      Object.assign(ctx, { readings: changes.readings, series: changes.series, plan: changes.plan });
    }
    ctx.rowsWritten =
      changes?.readings === 0
        ? 0
        : rowsOf(await client.query(job.sql(changes?.plan ?? "seek"), (changes?.params ?? []) as unknown[]));
    if (changes?.readings === 0 || (source === "reference" && ctx.rowsWritten === 0)) {
      // nothing came in (other transactions moved the horizon) or nothing differs: only the watermark follows
      await client.query("UPDATE ops.warehouse_jobs SET watermark = $2 WHERE job = $1", [job.name, window.to]);
      await client.query("COMMIT");
      return { job: job.name, runId: null, status: "skipped", reason: "up to date" };
    }
    const quality = (await hooks.afterLoad?.(client, ctx)) ?? { blocking: [] };
    await hooks.lineage?.(client, ctx, "COMPLETE");
    const run = await client.query(
      `INSERT INTO ops.warehouse_runs (id, job, kind, from_xid, to_xid, status, started_at, ended_at, readings, series, rows_written)
       VALUES ($7, $1, 'incremental', $2, $3, 'succeeded', $8, clock_timestamp(), $4, $5, $6) RETURNING id`,
      [
        job.name,
        window.from,
        window.to,
        ctx.readings ?? null,
        ctx.series ?? null,
        ctx.rowsWritten,
        ctx.runId,
        ctx.startedAt,
      ],
    );
    await client.query(
      `UPDATE ops.warehouse_jobs SET watermark = $2, failures = 0, next_attempt_at = now(), last_run_id = $3,
         changed_at = CASE WHEN $4 THEN clock_timestamp() ELSE changed_at END, blocked_by = $5, updated_at = now()
       WHERE job = $1`,
      [
        job.name,
        window.to,
        run.rows[0].id,
        ctx.rowsWritten > 0 || source === "serving",
        quality.blocking.length ? quality.blocking : null,
      ],
    );
    await client.query("COMMIT");
    const result = { job: job.name, runId: run.rows[0].id, status: "succeeded" as const, window };
    const blockedBy = quality.blocking.length ? { blockedBy: quality.blocking } : {};
    return { ...result, rowsWritten: ctx.rowsWritten, ms: Date.now() - started, ...blockedBy };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    await client.query("BEGIN");
    const { rows } = await client.query(
      `WITH failed AS (
         UPDATE ops.warehouse_jobs SET failures = failures + 1, updated_at = now(),
           next_attempt_at = now() + make_interval(secs => least(3600, 30 * 2 ^ greatest(0, failures)))
         WHERE job = $1 RETURNING watermark, failures)
       INSERT INTO ops.warehouse_runs (id, job, kind, from_xid, status, started_at, ended_at, error)
       SELECT $3, $1, 'incremental', watermark, 'failed', $4, clock_timestamp(), $2 FROM failed RETURNING id`,
      [job.name, errorJson(err), ctx.runId, ctx.startedAt],
    );
    await hooks.lineage?.(client, ctx, "FAIL", err);
    await client.query("COMMIT");
    log.warn({ err, job: job.name }, "warehouse job failed; retried after a backoff");
    return { job: job.name, runId: rows[0]?.id ?? null, status: "failed", error: errorJson(err).message };
  }
}

/**
 * Runs every job once on what was committed so far, two at a time (a job once those it depends
 * on have ended); a job whose upstream failed in this pass is skipped (and says why). Returns what
 * each did, in the jobs' order.
 */
export async function runWarehouse(pool: pg.Pool, options: PassOptions): Promise<JobRun[]> {
  const hooks = options.hooks ?? {};
  const cache: WindowCache = new Map();
  return pass(pool, options, async (client, job, results) => {
    const upstream = results.filter((r) => job.dependsOn.includes(r.job));
    if (upstream.some((r) => r.status === "failed"))
      return { job: job.name, runId: null, status: "skipped", reason: "upstream failed" };
    // blocked by a failed rule of an upstream job's last loaded window (this pass's or an earlier one)
    const { rows: blocks } = await client.query(
      "SELECT coalesce(array_agg(DISTINCT rule), '{}') AS rules FROM ops.warehouse_jobs, unnest(blocked_by) AS rule WHERE job = ANY($1)",
      [job.dependsOn],
    );
    const blockedBy = blocks[0].rules as string[];
    if (blockedBy.length) return { job: job.name, runId: null, status: "skipped", reason: "blocked", blockedBy };
    return runIncremental(client, job, options.log, hooks, cache);
  });
}

/** How a pass runs. */
export interface PassOptions {
  log: Logger;
  jobs?: readonly WarehouseJob[];
  hooks?: RunHooks;
  /**
   * Jobs run at once, each on its own connection from the pool (default 2): a job starts when the
   * jobs it depends on have ended.
   */
  connections?: number;
}

/**
 * Runs each job once with `run`, on up to `connections` connections, a job when the jobs of the
 * pass it depends on have ended (`run` sees their results); returns the results in the jobs' order.
 */
async function pass(
  pool: pg.Pool,
  options: PassOptions,
  run: (client: pg.PoolClient, job: WarehouseJob, results: JobRun[]) => Promise<JobRun>,
): Promise<JobRun[]> {
  const jobs = options.jobs ?? WAREHOUSE_JOBS;
  const names = new Set(jobs.map((j) => j.name));
  const pending = [...jobs];
  const results = new Map<string, JobRun>();
  let ended: () => void = () => undefined;
  let someEnded = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const ready = (job: WarehouseJob) => job.dependsOn.every((d) => !names.has(d) || results.has(d));
  let first = true;
  const worker = async () => {
    const client = await pool.connect();
    try {
      if (first) {
        first = false;
        await syncPoints(client);
      }
      while (pending.length) {
        const i = pending.findIndex(ready);
        if (i < 0) {
          // what it waits for runs on another connection
          await someEnded;
          continue;
        }
        const job = pending.splice(i, 1)[0] as WarehouseJob;
        results.set(job.name, await run(client, job, [...results.values()]));
        ended();
        someEnded = new Promise<void>((resolve) => {
          ended = resolve;
        });
      }
    } catch (err) {
      // the others end with what they run now
      pending.length = 0;
      ended();
      throw err;
    } finally {
      client.release();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.connections ?? 2, jobs.length)) }, worker));
  return jobs.map((j) => results.get(j.name) as JobRun);
}

/**
 * Loads readings with `from ≤ ts < to` again, whenever they were committed (for example after a
 * rule changed), job by job, each in its own transaction; writes only rows that differ.
 */
export async function backfillWarehouse(
  pool: pg.Pool,
  range: { from: Date; to: Date },
  options: PassOptions & { /** Reads the samples so, whatever the window holds. */ plan?: ReadPlan },
): Promise<JobRun[]> {
  const hooks = options.hooks ?? {};
  const window = { from: range.from.toISOString(), to: range.to.toISOString() };
  const cache: WindowCache = new Map();
  return pass(pool, options, async (client, job) => {
    const started = Date.now();
    const ctx: RunContext = { runId: randomUUID(), job, kind: "backfill", window, startedAt: new Date() };
    await client.query("INSERT INTO ops.warehouse_jobs (job) VALUES ($1) ON CONFLICT DO NOTHING", [job.name]);
    await client.query("BEGIN");
    try {
      // waits for an incremental run of the job in another process to end
      await client.query("SELECT 1 FROM ops.warehouse_jobs WHERE job = $1 FOR UPDATE", [job.name]);
      const source = job.source ?? "raw";
      const changes = source === "raw" ? await windowChanges(client, "backfill", window, cache) : undefined;
      const plan = options.plan ?? changes?.plan ?? "seek";
      if (changes) Object.assign(ctx, { readings: changes.readings, series: changes.series, plan });
      ctx.rowsWritten =
        changes?.readings === 0 ? 0 : rowsOf(await client.query(job.sql(plan), (changes?.params ?? []) as unknown[]));
      const quality = (await hooks.afterLoad?.(client, ctx)) ?? { blocking: [] };
      await hooks.lineage?.(client, ctx, "COMPLETE");
      await client.query(
        `INSERT INTO ops.warehouse_runs (id, job, kind, from_ts, to_ts, status, started_at, ended_at, rows_written)
         VALUES ($1, $2, 'backfill', $3, $4, 'succeeded', $5, clock_timestamp(), $6)`,
        [ctx.runId, job.name, range.from, range.to, ctx.startedAt, ctx.rowsWritten],
      );
      await client.query("COMMIT");
      return {
        job: job.name,
        runId: ctx.runId,
        status: "succeeded",
        window,
        rowsWritten: ctx.rowsWritten,
        ms: Date.now() - started,
        ...(quality.blocking.length ? { blockedBy: quality.blocking } : {}),
      };
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO ops.warehouse_runs (id, job, kind, from_ts, to_ts, status, started_at, ended_at, error)
         VALUES ($1, $2, 'backfill', $3, $4, 'failed', $5, clock_timestamp(), $6)`,
        [ctx.runId, job.name, range.from, range.to, ctx.startedAt, errorJson(err)],
      );
      await hooks.lineage?.(client, ctx, "FAIL", err);
      await client.query("COMMIT");
      options.log.warn({ err, job: job.name }, "warehouse backfill failed");
      return { job: job.name, runId: ctx.runId, status: "failed", error: errorJson(err).message };
    }
  });
}

/** Each job's watermark, failures and last run. */
export async function warehouseStatus(db: pg.Pool) {
  const { rows } = await db.query(
    `SELECT j.job, j.watermark::text, j.failures, j.next_attempt_at, r.status AS last_status, r.started_at AS last_started_at,
       r.ended_at AS last_ended_at, r.rows_written AS last_rows_written, r.error AS last_error,
       pg_snapshot_xmin(pg_current_snapshot())::text AS committed_xmin
     FROM ops.warehouse_jobs j
     LEFT JOIN LATERAL (SELECT * FROM ops.warehouse_runs WHERE job = j.job ORDER BY started_at DESC LIMIT 1) r ON true
     ORDER BY j.job`,
  );
  return rows;
}
