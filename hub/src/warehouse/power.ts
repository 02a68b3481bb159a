/**
 * `curated.fact_power_15min`: average, minimum, maximum and count of the usable samples of each
 * power series (points of kind `power`, W) and irradiance series (kind `irradiance`, W/m²: the
 * columns are in the point's unit) per UTC quarter-hour. Every quarter that holds a
 * changed reading is aggregated again from all its samples and upserted, writing only rows that
 * differ (a quarter whose samples all became unusable loses its row).
 */

/** Which quarters changed: `SELECT DISTINCT series_id, s` (the quarter's start). */
export type ChangedQuartersSql = string;

/** The upsert of the power facts of the quarters `changed` selects. */
export function powerSql(changed: ChangedQuartersSql): string {
  return `
WITH q AS (
  SELECT ch.series_id, s.edge_id, s.device_id, s.point, ch.s
  FROM (${changed}) ch JOIN raw.series s ON s.series_id = ch.series_id
  JOIN staging.points p ON p.point = s.point AND p.kind IN ('power', 'irradiance')
),
agg AS (
  SELECT q.series_id, q.edge_id, q.device_id, q.point, q.s AS interval_start, x.avg_w, x.min_w, x.max_w, x.samples
  FROM q CROSS JOIN LATERAL (
    SELECT avg(r.value) AS avg_w, min(r.value) AS min_w, max(r.value) AS max_w, count(*)::int AS samples
    FROM staging.readings r
    WHERE r.series_id = q.series_id AND r.usable AND r.ts >= q.s AND r.ts < q.s + interval '15 minutes'
  ) x
),
gone AS (
  DELETE FROM curated.fact_power_15min f USING agg
  WHERE f.series_id = agg.series_id AND f.interval_start = agg.interval_start AND agg.samples = 0
)
INSERT INTO curated.fact_power_15min AS f (series_id, edge_id, device_id, point, interval_start, avg_w, min_w, max_w, samples)
SELECT series_id, edge_id, device_id, point, interval_start, avg_w, min_w, max_w, samples FROM agg WHERE samples > 0
ON CONFLICT (series_id, interval_start) DO UPDATE
  SET avg_w = EXCLUDED.avg_w, min_w = EXCLUDED.min_w, max_w = EXCLUDED.max_w, samples = EXCLUDED.samples
  WHERE (f.avg_w, f.min_w, f.max_w, f.samples) IS DISTINCT FROM (EXCLUDED.avg_w, EXCLUDED.min_w, EXCLUDED.max_w, EXCLUDED.samples)`;
}
