/**
 * The samples a raw job reads: for each series of a CTE `w (series_id, lo, hi)`, its usable
 * samples with `lo ≤ ts < hi`, one per instant (several: the lowest seq wins, as in
 * `staging.readings`), in the order of (series_id, ts).
 */

/**
 * Which series a window changed: `SELECT series_id, a, b` (first and last reading time touched),
 * from the statement's parameters $1 (series ids), $2 and $3 (the times, as text, in the same order).
 */
export type WindowSeries = string;
export const WINDOW_SERIES: WindowSeries =
  "SELECT * FROM unnest($1::int[], $2::text[]::timestamptz[], $3::text[]::timestamptz[]) AS ch(series_id, a, b)";

/**
 * How the samples are read: `seek`, each series' range by its index (cheap for short ranges: a
 * series' samples lie spread over the pages its edge filled); `scan`, the partitions the ranges
 * span read through once and joined (cheaper when the window holds a good share of them, as a
 * first load or a long backfill does).
 */
export type ReadPlan = "seek" | "scan";

export function seriesSamples(plan: ReadPlan): string {
  const from =
    plan === "seek"
      ? // a fence: kept as a subquery, its conditions reach the index (as parameters)
        `w CROSS JOIN LATERAL (SELECT r.* FROM raw.readings r
           WHERE r.series_id = w.series_id AND r.ts >= w.lo AND r.ts < w.hi OFFSET 0) r`
      : `raw.readings r JOIN w ON w.series_id = r.series_id AND r.ts >= w.lo AND r.ts < w.hi
         WHERE r.ts >= (SELECT min(lo) FROM w) AND r.ts < (SELECT max(hi) FROM w)`;
  return `SELECT series_id, ts, value FROM (
    SELECT DISTINCT ON (r.series_id, r.ts) r.series_id, r.ts, r.value, r.quality
    FROM ${from} ORDER BY r.series_id, r.ts, r.seq
  ) d WHERE quality = 1 AND value IS NOT NULL`;
}
