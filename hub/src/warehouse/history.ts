import type { Queryable } from "../db/queryable.js";

/** What one pruning removed. */
export interface PrunedHistory {
  runs: number;
  qualityResults: number;
  lineageEvents: number;
}

/** Rows deleted per statement, so no pruning holds locks or grows WAL for long. */
const BATCH = 5_000;
/** Statements per table and call: the rest waits for the next hour. */
const MAX_BATCHES = 200;

/**
 * Deletes the warehouse's operational history older than `keepDays`: job runs (their quality
 * results go with them), quality results of no run (the freshness checks) and lineage events —
 * but not, while an endpoint is configured (`keepUndelivered`), events it has not received yet
 * (unless set aside as refused).
 * The watermarks are in `ops.warehouse_jobs` and stay. Runs in batches; called hourly by the hub.
 */
export async function pruneWarehouseHistory(
  db: Queryable,
  options: { keepDays: number; keepUndelivered: boolean; now?: Date },
): Promise<PrunedHistory> {
  const cutoff = new Date((options.now ?? new Date()).getTime() - options.keepDays * 86_400_000);
  const inBatches = async (sql: string, params: unknown[]) => {
    let total = 0;
    for (let i = 0; i < MAX_BATCHES; i++) {
      const { rowCount } = await db.query(sql, params);
      total += rowCount ?? 0;
      if ((rowCount ?? 0) < BATCH) break;
    }
    return total;
  };
  const runs = await inBatches(
    `DELETE FROM ops.warehouse_runs WHERE id IN (
       SELECT id FROM ops.warehouse_runs WHERE job IN (SELECT job FROM ops.warehouse_jobs) AND started_at < $1 LIMIT ${BATCH})`,
    [cutoff],
  );
  const qualityResults = await inBatches(
    `DELETE FROM ops.quality_results WHERE id IN (
       SELECT id FROM ops.quality_results WHERE run_id IS NULL AND checked_at < $1 LIMIT ${BATCH})`,
    [cutoff],
  );
  const lineageEvents = await inBatches(
    `DELETE FROM ops.lineage_events WHERE id IN (
       SELECT id FROM ops.lineage_events WHERE created_at < $1 AND (delivered_at IS NOT NULL OR rejected_at IS NOT NULL OR NOT $2) LIMIT ${BATCH})`,
    [cutoff, options.keepUndelivered],
  );
  return { runs, qualityResults, lineageEvents };
}
