/**
 * `curated.fact_energy_15min`: energy per counter series (points of kind `counter`) and UTC
 * quarter-hour, from the usable samples of the series (several at one instant: the lowest seq
 * wins, as in `staging.readings`), by these rules:
 *
 * - A counter that decreases was reset: from there on its value counts on top of the last value
 *   before the reset (the pair's energy is the new value); the reset is counted in the quarter
 *   that holds the sample showing it.
 * - The corrected counter is interpolated linearly at every quarter-hour boundary between the
 *   samples around it (a sample on a boundary is the boundary's value); a quarter's energy is its
 *   end boundary's value minus its start boundary's, so the quarters of a series add up to its
 *   corrected span up to the last boundary reached.
 * - A quarter gets a row only when a sample lies at or after its end (never extrapolated) and its
 *   end is after the series' first sample (the quarter holding the first sample starts from it).
 * - A quarter is `estimated` when one of its boundaries was interpolated across a gap longer than
 *   twice the usual spacing: the median of the three spacings before the gap and the three after.
 *
 * Only the samples ending a pair that reaches a boundary, those showing a reset and the first are
 * carried past the first pass over the samples (about one in a hundred at a 9 s spacing).
 *
 * Recomputing: a changed sample at t can change the quarters from the one holding the 4th usable
 * sample before t to the one holding the 4th after it (pair energies, resets and the spacings the
 * medians look at); those are computed from the samples around them and upserted, writing only
 * rows that differ. The corrected counter is kept in `numeric` relative to the first sample read,
 * and a quarter's energy is a difference of two such values, so it comes out bit for bit the same
 * whichever window computed it.
 */
import { type ReadPlan, seriesSamples, type WindowSeries } from "./samples.js";

/** The upsert of the energy facts for the series and times `changed` selects; returns rows written. */
export function energySql(changed: WindowSeries, plan: ReadPlan): string {
  return `
WITH c AS (
  SELECT ch.series_id, s.edge_id, s.device_id, s.point, ch.a, ch.b
  FROM (${changed}) ch JOIN raw.series s ON s.series_id = ch.series_id
  JOIN staging.points p ON p.point = s.point AND p.kind = 'counter'
),
-- p, n: the 4th usable sample before a and after b (none: the series' start or end)
pn AS (
  SELECT c.*,
    (SELECT r.ts FROM raw.readings r WHERE r.series_id = c.series_id AND r.ts < c.a AND r.quality = 1
       AND r.value IS NOT NULL ORDER BY r.ts DESC OFFSET 3 LIMIT 1) AS p,
    (SELECT r.ts FROM raw.readings r WHERE r.series_id = c.series_id AND r.ts > c.b AND r.quality = 1
       AND r.value IS NOT NULL ORDER BY r.ts OFFSET 3 LIMIT 1) AS n
  FROM c
),
-- the quarters to recompute [out_from, out_to) and the samples they need [lo, hi)
w AS MATERIALIZED (
  SELECT pn.*,
    date_bin('15 minutes', pn.p, TIMESTAMPTZ '2000-01-01') AS out_from,
    date_bin('15 minutes', pn.n, TIMESTAMPTZ '2000-01-01') + interval '15 minutes' AS out_to,
    coalesce((SELECT r.ts FROM raw.readings r WHERE r.series_id = pn.series_id
       AND r.ts <= date_bin('15 minutes', pn.p, TIMESTAMPTZ '2000-01-01') AND r.quality = 1 AND r.value IS NOT NULL
       ORDER BY r.ts DESC OFFSET 3 LIMIT 1), '-infinity') AS lo,
    coalesce((SELECT r.ts FROM raw.readings r WHERE r.series_id = pn.series_id
       AND r.ts >= date_bin('15 minutes', pn.n, TIMESTAMPTZ '2000-01-01') + interval '15 minutes' AND r.quality = 1
       AND r.value IS NOT NULL ORDER BY r.ts OFFSET 3 LIMIT 1) + interval '1 microsecond', 'infinity') AS hi
  FROM pn
),
-- each usable sample with the pair it ends, whether it shows a reset, the boundaries the pair
-- reaches (b1 ≤ b2: those in (pts, ts]) and the times of the three samples before and after it
spaced AS (
  SELECT series_id, ts, value, pts, pv, value < pv AS reset,
    date_bin('15 minutes', pts, TIMESTAMPTZ '2000-01-01') + interval '15 minutes' AS b1,
    date_bin('15 minutes', ts, TIMESTAMPTZ '2000-01-01') AS b2, t2, t3, t4, n1, n2, n3
  FROM (
    SELECT series_id, ts, value, lag(ts) OVER o AS pts, lag(value) OVER o AS pv,
      lag(ts, 2) OVER o AS t2, lag(ts, 3) OVER o AS t3, lag(ts, 4) OVER o AS t4,
      lead(ts) OVER o AS n1, lead(ts, 2) OVER o AS n2, lead(ts, 3) OVER o AS n3
    FROM (${seriesSamples(plan)}) s
    WINDOW o AS (PARTITION BY series_id ORDER BY ts)
  ) x
),
-- the samples that matter, with the sum of the values lost to resets up to them (off)
kept AS MATERIALIZED (
  SELECT *, sum(CASE WHEN reset THEN pv::numeric ELSE 0 END) OVER (PARTITION BY series_id ORDER BY ts) AS off
  FROM spaced WHERE pts IS NULL OR reset OR b1 <= b2
),
-- the corrected counter at each boundary (interpolated in the pair reaching it) and at the first
-- sample; a boundary strictly inside a long gap is estimated
points AS (
  SELECT k.series_id, b.t, true AS bound,
    CASE WHEN k.reset THEN k.off ELSE k.pv::numeric + k.off END
      + CASE WHEN k.reset THEN k.value::numeric ELSE k.value::numeric - k.pv::numeric END
        * (extract(epoch FROM b.t) - extract(epoch FROM k.pts)) / (extract(epoch FROM k.ts) - extract(epoch FROM k.pts)) AS v,
    b.t < k.ts AND coalesce(date_part('epoch', k.ts - k.pts) > 2 * (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY g)
      FROM unnest(ARRAY[k.pts - k.t2, k.t2 - k.t3, k.t3 - k.t4, k.n1 - k.ts, k.n2 - k.n1, k.n3 - k.n2]) AS u(d),
        LATERAL (SELECT date_part('epoch', u.d)) AS e(g)), false) AS est
  FROM kept k CROSS JOIN LATERAL generate_series(k.b1, k.b2, interval '15 minutes') AS b(t)
  WHERE k.b1 <= k.b2
  UNION ALL
  SELECT series_id, ts, false, value::numeric + off, false FROM kept WHERE pts IS NULL
),
ends AS (
  SELECT series_id, t, bound, v, est, lag(t) OVER o AS st, lag(v) OVER o AS sv, lag(est) OVER o AS sest
  FROM points WINDOW o AS (PARTITION BY series_id ORDER BY t)
),
resets AS (
  SELECT series_id, date_bin('15 minutes', ts, TIMESTAMPTZ '2000-01-01') AS s, count(*)::int AS n
  FROM kept WHERE reset GROUP BY 1, 2
),
quarters AS (
  SELECT w.series_id, w.edge_id, w.device_id, w.point, e.t - interval '15 minutes' AS interval_start,
    (e.v - e.sv)::double precision AS energy_wh, e.est OR e.sest AS estimated, coalesce(rs.n, 0) AS resets
  FROM ends e
  JOIN w ON w.series_id = e.series_id
  LEFT JOIN resets rs ON rs.series_id = e.series_id AND rs.s = e.t - interval '15 minutes'
  WHERE e.bound AND e.st >= e.t - interval '15 minutes'
    AND (w.out_from IS NULL OR e.t > w.out_from) AND (w.out_to IS NULL OR e.t <= w.out_to)
)
INSERT INTO curated.fact_energy_15min AS f (series_id, edge_id, device_id, point, interval_start, energy_wh, estimated, resets)
SELECT series_id, edge_id, device_id, point, interval_start, energy_wh, estimated, resets FROM quarters
ON CONFLICT (series_id, interval_start) DO UPDATE
  SET energy_wh = EXCLUDED.energy_wh, estimated = EXCLUDED.estimated, resets = EXCLUDED.resets
  WHERE (f.energy_wh, f.estimated, f.resets) IS DISTINCT FROM (EXCLUDED.energy_wh, EXCLUDED.estimated, EXCLUDED.resets)`;
}
