/**
 * `curated.fact_energy_15min`: energy per counter series (points of kind `counter`) and UTC
 * quarter-hour, from the usable samples of `staging.readings`, by these rules:
 *
 * - A counter that decreases was reset: from there on its value counts on top of the last value
 *   before the reset (the pair's energy is the new value); the reset is counted in the quarter
 *   that holds the sample showing it.
 * - The corrected counter is linear between samples, so each pair of consecutive samples gives its
 *   energy to the quarters it spans in proportion to the time it spends in each — the same as
 *   interpolating the counter at every boundary (a sample on a boundary is the boundary's value)
 *   and taking end minus start. The quarters of a series add up to its corrected span up to the
 *   last boundary reached.
 * - A quarter gets a row only when a sample lies at or after its end (never extrapolated) and its
 *   end is after the series' first sample (the quarter holding the first sample starts from it).
 * - A quarter is `estimated` when one of its boundaries was interpolated across a gap longer than
 *   twice the usual spacing: the median of the three spacings before the gap and the three after.
 *
 * Recomputing: a changed sample at t can change the quarters from the one holding the 4th usable
 * sample before t to the one holding the 4th after it (pair energies, resets and the spacings the
 * medians look at); those are computed from the samples around them and upserted, writing only
 * rows that differ. Sums are taken in `numeric`, so a quarter comes out bit for bit the same
 * whichever window computed it.
 */

/** Which series changed and where: `SELECT series_id, a, b` (first and last changed reading time). */
export type ChangedSql = string;

/** The upsert of the energy facts for the series and times `changed` selects; returns rows written. */
export function energySql(changed: ChangedSql): string {
  return `
WITH changed AS (${changed}),
c AS (
  SELECT ch.series_id, s.edge_id, s.device_id, s.point, ch.a, ch.b
  FROM changed ch JOIN raw.series s ON s.series_id = ch.series_id
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
-- the quarters to recompute [out_from, out_to) and the samples they need [lo, hi]
w AS (
  SELECT pn.*,
    date_bin('15 minutes', pn.p, TIMESTAMPTZ '2000-01-01') AS out_from,
    date_bin('15 minutes', pn.n, TIMESTAMPTZ '2000-01-01') + interval '15 minutes' AS out_to,
    (SELECT r.ts FROM raw.readings r WHERE r.series_id = pn.series_id
       AND r.ts <= date_bin('15 minutes', pn.p, TIMESTAMPTZ '2000-01-01') AND r.quality = 1 AND r.value IS NOT NULL
       ORDER BY r.ts DESC OFFSET 3 LIMIT 1) AS lo,
    (SELECT r.ts FROM raw.readings r WHERE r.series_id = pn.series_id
       AND r.ts >= date_bin('15 minutes', pn.n, TIMESTAMPTZ '2000-01-01') + interval '15 minutes' AND r.quality = 1
       AND r.value IS NOT NULL ORDER BY r.ts OFFSET 3 LIMIT 1) AS hi
  FROM pn
),
s AS (
  SELECT w.series_id, x.ts, x.value::numeric AS value
  FROM w CROSS JOIN LATERAL (
    SELECT r.ts, r.value FROM staging.readings r
    WHERE r.series_id = w.series_id AND r.usable
      AND r.ts >= coalesce(w.lo, '-infinity') AND r.ts <= coalesce(w.hi, 'infinity')
    -- a fence: kept as a subquery, its conditions reach the view's index (as parameters) instead of
    -- becoming join conditions applied to every reading of the view
    OFFSET 0
  ) x
),
-- each sample with the pair it ends: its energy (delta), whether it shows a reset, its gap
pairs AS (
  SELECT series_id, ts, lag(ts) OVER o AS pts, value, lag(value) OVER o AS pv,
    extract(epoch FROM ts - lag(ts) OVER o) AS gap
  FROM s WINDOW o AS (PARTITION BY series_id ORDER BY ts)
),
spaced AS (
  SELECT series_id, ts, pts, gap,
    CASE WHEN value >= pv THEN value - pv ELSE value END AS delta,
    value < pv AS reset,
    lag(gap, 1) OVER o AS g1, lag(gap, 2) OVER o AS g2, lag(gap, 3) OVER o AS g3,
    lead(gap, 1) OVER o AS g4, lead(gap, 2) OVER o AS g5, lead(gap, 3) OVER o AS g6
  FROM pairs WINDOW o AS (PARTITION BY series_id ORDER BY ts)
),
-- a pair's share of each quarter it spans; a boundary strictly inside a long gap makes its quarters estimated
-- (the usual spacing, the median of the gaps around, is only taken where a boundary lies strictly
-- inside the pair: elsewhere the quarter is not estimated whatever it is)
shares AS (
  SELECT u.series_id, q.s,
    u.delta * (extract(epoch FROM least(q.s + interval '15 minutes', u.ts)) - extract(epoch FROM greatest(q.s, u.pts))) / u.gap AS share,
    CASE WHEN (q.s > u.pts AND q.s < u.ts) OR (q.s + interval '15 minutes' > u.pts AND q.s + interval '15 minutes' < u.ts)
      THEN coalesce(u.gap > 2 * (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY g)
        FROM unnest(ARRAY[u.g1, u.g2, u.g3, u.g4, u.g5, u.g6]) g), false)
      ELSE false END AS est
  FROM spaced u
  CROSS JOIN LATERAL generate_series(date_bin('15 minutes', u.pts, TIMESTAMPTZ '2000-01-01'),
    date_bin('15 minutes', u.ts - interval '1 microsecond', TIMESTAMPTZ '2000-01-01'), interval '15 minutes') AS q(s)
  WHERE u.pts IS NOT NULL
),
resets AS (
  SELECT series_id, date_bin('15 minutes', ts, TIMESTAMPTZ '2000-01-01') AS s, count(*)::int AS n
  FROM spaced WHERE reset GROUP BY 1, 2
),
span AS (
  SELECT series_id, min(ts) AS first_ts, max(ts) AS last_ts FROM s GROUP BY series_id
),
-- summed per series and quarter first (narrow rows), then the series' keys and bounds (one row each)
summed AS (
  SELECT series_id, s, sum(share)::double precision AS energy_wh, bool_or(est) AS estimated
  FROM shares GROUP BY series_id, s
),
quarters AS (
  SELECT w.series_id, w.edge_id, w.device_id, w.point, sh.s AS interval_start,
    sh.energy_wh, sh.estimated, coalesce(rs.n, 0) AS resets
  FROM summed sh
  JOIN w ON w.series_id = sh.series_id
  JOIN span ON span.series_id = sh.series_id
  LEFT JOIN resets rs ON rs.series_id = sh.series_id AND rs.s = sh.s
  WHERE (w.out_from IS NULL OR sh.s >= w.out_from) AND (w.out_to IS NULL OR sh.s < w.out_to)
    AND sh.s + interval '15 minutes' <= span.last_ts AND sh.s + interval '15 minutes' > span.first_ts
)
INSERT INTO curated.fact_energy_15min AS f (series_id, edge_id, device_id, point, interval_start, energy_wh, estimated, resets)
SELECT series_id, edge_id, device_id, point, interval_start, energy_wh, estimated, resets FROM quarters
ON CONFLICT (series_id, interval_start) DO UPDATE
  SET energy_wh = EXCLUDED.energy_wh, estimated = EXCLUDED.estimated, resets = EXCLUDED.resets
  WHERE (f.energy_wh, f.estimated, f.resets) IS DISTINCT FROM (EXCLUDED.energy_wh, EXCLUDED.estimated, EXCLUDED.resets)`;
}
