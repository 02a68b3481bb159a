import type pg from "pg";
import type { Logger } from "pino";
import { inWindow, WAREHOUSE_JOBS, type WarehouseJob, type WindowKind } from "./jobs.js";
import { syncPoints } from "./points.js";

/** What one job did in a run. */
export interface JobRun {
  job: string;
  runId: string | null;
  status: "succeeded" | "failed" | "skipped";
  /** Why it was skipped: another process runs it, it waits after a failure, nothing new, or an upstream job failed. */
  reason?: "busy" | "backoff" | "up to date" | "upstream failed";
  window?: { from: string; to: string };
  rowsWritten?: number;
  ms?: number;
  error?: string;
}

const errorJson = (err: unknown) => {
  const e = err as { message?: string; code?: string };
  return { message: String(e?.message ?? err).slice(0, 2000), code: e?.code ?? null };
};

/**
 * Runs one job on what was committed to raw since its watermark, in one transaction that holds
 * the job's row (FOR UPDATE SKIP LOCKED: several hub processes never run a job at once — the
 * others skip it as busy), loads the window [watermark, xmin of the snapshot), records the run and
 * moves the watermark. A failure rolls everything back, is recorded with its error and retried
 * after a backoff (30 s doubling per failure, at most an hour); the window stays where it was, so
 * nothing is skipped.
 */
async function runIncremental(client: pg.PoolClient, job: WarehouseJob, log: Logger): Promise<JobRun> {
  const started = Date.now();
  await client.query("INSERT INTO ops.warehouse_jobs (job) VALUES ($1) ON CONFLICT DO NOTHING", [job.name]);
  await client.query("BEGIN");
  try {
    const { rows } = await client.query(
      `SELECT watermark::text, next_attempt_at <= now() AS due, pg_snapshot_xmin(pg_current_snapshot())::text AS xmin
       FROM ops.warehouse_jobs WHERE job = $1 FOR UPDATE SKIP LOCKED`,
      [job.name],
    );
    const state = rows[0] as { watermark: string; due: boolean; xmin: string } | undefined;
    if (!state || !state.due || BigInt(state.xmin) <= BigInt(state.watermark)) {
      await client.query("ROLLBACK");
      const reason = !state ? "busy" : !state.due ? "backoff" : "up to date";
      return { job: job.name, runId: null, status: "skipped", reason };
    }
    const window = { from: state.watermark, to: state.xmin };
    const { rows: counted } = await client.query(
      `SELECT count(*)::int AS readings, count(DISTINCT r.series_id)::int AS series FROM raw.readings r
       WHERE ${inWindow("incremental")}`,
      [window.from, window.to],
    );
    const { readings, series } = counted[0] as { readings: number; series: number };
    if (readings === 0) {
      // other transactions moved the horizon, none stored readings: only the watermark follows
      await client.query("UPDATE ops.warehouse_jobs SET watermark = $2 WHERE job = $1", [job.name, window.to]);
      await client.query("COMMIT");
      return { job: job.name, runId: null, status: "skipped", reason: "up to date" };
    }
    const written = await client.query(job.sql("incremental"), [window.from, window.to]);
    const run = await client.query(
      `INSERT INTO ops.warehouse_runs (job, kind, from_xid, to_xid, status, ended_at, readings, series, rows_written)
       VALUES ($1, 'incremental', $2, $3, 'succeeded', clock_timestamp(), $4, $5, $6) RETURNING id`,
      [job.name, window.from, window.to, readings, series, written.rowCount ?? 0],
    );
    await client.query(
      `UPDATE ops.warehouse_jobs SET watermark = $2, failures = 0, next_attempt_at = now(), last_run_id = $3,
         updated_at = now() WHERE job = $1`,
      [job.name, window.to, run.rows[0].id],
    );
    await client.query("COMMIT");
    const result = { job: job.name, runId: run.rows[0].id, status: "succeeded" as const, window };
    return { ...result, rowsWritten: written.rowCount ?? 0, ms: Date.now() - started };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    const { rows } = await client.query(
      `WITH failed AS (
         UPDATE ops.warehouse_jobs SET failures = failures + 1, updated_at = now(),
           next_attempt_at = now() + make_interval(secs => least(3600, 30 * 2 ^ greatest(0, failures)))
         WHERE job = $1 RETURNING watermark, failures)
       INSERT INTO ops.warehouse_runs (job, kind, from_xid, status, ended_at, error)
       SELECT $1, 'incremental', watermark, 'failed', clock_timestamp(), $2 FROM failed RETURNING id`,
      [job.name, errorJson(err)],
    );
    log.warn({ err, job: job.name }, "warehouse job failed; retried after a backoff");
    return { job: job.name, runId: rows[0]?.id ?? null, status: "failed", error: errorJson(err).message };
  }
}

/**
 * Runs every job once on what was committed so far, in dependency order; a job whose upstream
 * failed in this pass is skipped (and says why). Returns what each did.
 */
export async function runWarehouse(
  pool: pg.Pool,
  options: { log: Logger; jobs?: readonly WarehouseJob[] },
): Promise<JobRun[]> {
  const jobs = options.jobs ?? WAREHOUSE_JOBS;
  const client = await pool.connect();
  const results: JobRun[] = [];
  try {
    await syncPoints(client);
    for (const job of jobs) {
      const upstream = results.find((r) => job.dependsOn.includes(r.job) && r.status === "failed");
      if (upstream) {
        results.push({ job: job.name, runId: null, status: "skipped", reason: "upstream failed" });
        continue;
      }
      results.push(await runIncremental(client, job, options.log));
    }
  } finally {
    client.release();
  }
  return results;
}

/**
 * Loads readings with `from ≤ ts < to` again, whenever they were committed (for example after a
 * rule changed), job by job, each in its own transaction; writes only rows that differ.
 */
export async function backfillWarehouse(
  pool: pg.Pool,
  range: { from: Date; to: Date },
  options: { log: Logger; jobs?: readonly WarehouseJob[] },
): Promise<JobRun[]> {
  const jobs = options.jobs ?? WAREHOUSE_JOBS;
  const client = await pool.connect();
  const results: JobRun[] = [];
  try {
    await syncPoints(client);
    for (const job of jobs) {
      const started = Date.now();
      await client.query("INSERT INTO ops.warehouse_jobs (job) VALUES ($1) ON CONFLICT DO NOTHING", [job.name]);
      await client.query("BEGIN");
      try {
        // waits for an incremental run of the job in another process to end
        await client.query("SELECT 1 FROM ops.warehouse_jobs WHERE job = $1 FOR UPDATE", [job.name]);
        const written = await client.query(job.sql("backfill" satisfies WindowKind), [range.from, range.to]);
        const run = await client.query(
          `INSERT INTO ops.warehouse_runs (job, kind, from_ts, to_ts, status, ended_at, rows_written)
           VALUES ($1, 'backfill', $2, $3, 'succeeded', clock_timestamp(), $4) RETURNING id`,
          [job.name, range.from, range.to, written.rowCount ?? 0],
        );
        await client.query("COMMIT");
        results.push({
          job: job.name,
          runId: run.rows[0].id,
          status: "succeeded",
          window: { from: range.from.toISOString(), to: range.to.toISOString() },
          rowsWritten: written.rowCount ?? 0,
          ms: Date.now() - started,
        });
      } catch (err) {
        await client.query("ROLLBACK").catch(() => undefined);
        options.log.warn({ err, job: job.name }, "warehouse backfill failed");
        results.push({ job: job.name, runId: null, status: "failed", error: errorJson(err).message });
      }
    }
  } finally {
    client.release();
  }
  return results;
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
