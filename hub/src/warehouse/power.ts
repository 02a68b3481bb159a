/**
 * `curated.fact_power_15min`: average, minimum, maximum and count of the usable samples of each
 * power series (points of kind `power`, W) and irradiance series (kind `irradiance`, W/m²: the
 * columns are in the point's unit) per UTC quarter-hour. For each changed series every quarter
 * from the first to the last changed reading is aggregated again and upserted, writing only rows
 * that differ; a quarter left without usable samples loses its row. The average is summed in
 * `numeric`, so it comes out bit for bit the same whatever order the samples are summed in.
 */
import { type ReadPlan, seriesSamples, type WindowSeries } from "./samples.js";

/** The upsert of the power facts of the series `changed` selects. */
export function powerSql(changed: WindowSeries, plan: ReadPlan): string {
  return `
WITH w AS MATERIALIZED (
  SELECT ch.series_id, s.edge_id, s.device_id, s.point,
    date_bin('15 minutes', ch.a, TIMESTAMPTZ '2000-01-01') AS lo,
    date_bin('15 minutes', ch.b, TIMESTAMPTZ '2000-01-01') + interval '15 minutes' AS hi
  FROM (${changed}) ch JOIN raw.series s ON s.series_id = ch.series_id
  JOIN staging.points p ON p.point = s.point AND p.kind IN ('power', 'irradiance')
),
agg AS MATERIALIZED (
  SELECT series_id, date_bin('15 minutes', ts, TIMESTAMPTZ '2000-01-01') AS interval_start,
    avg(value ORDER BY ts) AS avg_w, min(value) AS min_w, max(value) AS max_w,
    count(*)::int AS samples
  FROM (${seriesSamples(plan)}) x GROUP BY 1, 2
),
gone AS (
  DELETE FROM curated.fact_power_15min f USING w
  WHERE f.series_id = w.series_id AND f.interval_start >= w.lo AND f.interval_start < w.hi
    AND NOT EXISTS (SELECT FROM agg WHERE agg.series_id = f.series_id AND agg.interval_start = f.interval_start)
)
INSERT INTO curated.fact_power_15min AS f (series_id, edge_id, device_id, point, interval_start, avg_w, min_w, max_w, samples)
SELECT w.series_id, w.edge_id, w.device_id, w.point, agg.interval_start, agg.avg_w, agg.min_w, agg.max_w, agg.samples
FROM agg JOIN w ON w.series_id = agg.series_id
ON CONFLICT (series_id, interval_start) DO UPDATE
  SET avg_w = EXCLUDED.avg_w, min_w = EXCLUDED.min_w, max_w = EXCLUDED.max_w, samples = EXCLUDED.samples
  WHERE (f.avg_w, f.min_w, f.max_w, f.samples) IS DISTINCT FROM (EXCLUDED.avg_w, EXCLUDED.min_w, EXCLUDED.max_w, EXCLUDED.samples)`;
}
