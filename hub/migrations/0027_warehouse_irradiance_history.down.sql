DROP INDEX ops.quality_results_unrun;
DROP INDEX ops.lineage_events_created;
DROP MATERIALIZED VIEW serving.site_monthly;
DROP MATERIALIZED VIEW serving.site_daily;
UPDATE staging.points SET kind = 'gauge' WHERE kind = 'irradiance';
ALTER TABLE staging.points DROP CONSTRAINT points_kind_check;
ALTER TABLE staging.points ADD CONSTRAINT points_kind_check CHECK (kind IN ('counter', 'power', 'gauge'));

CREATE MATERIALIZED VIEW serving.site_daily AS
WITH e AS (
  SELECT d.site_id, (f.interval_start AT TIME ZONE 'Europe/Berlin')::date AS day,
    sum(f.energy_wh) FILTER (WHERE d.kind = 'inverter' AND f.point = 'energy_exported') AS production_wh,
    sum(f.energy_wh) FILTER (WHERE d.kind = 'meter' AND f.point = 'energy_exported') AS export_wh,
    sum(f.energy_wh) FILTER (WHERE d.kind = 'meter' AND f.point = 'energy_imported') AS import_wh,
    sum(f.energy_wh) FILTER (WHERE d.kind = 'battery' AND f.point = 'energy_charged') AS charged_wh,
    sum(f.energy_wh) FILTER (WHERE d.kind = 'battery' AND f.point = 'energy_discharged') AS discharged_wh,
    bool_or(f.estimated) AS estimated
  FROM curated.fact_energy_15min f
  JOIN curated.dim_device d ON d.edge_id = f.edge_id AND d.device_id = f.device_id
  GROUP BY 1, 2
),
pq AS (
  SELECT d.site_id, p.interval_start, sum(p.avg_w) AS w
  FROM curated.fact_power_15min p
  JOIN curated.dim_device d ON d.edge_id = p.edge_id AND d.device_id = p.device_id AND d.kind = 'inverter'
  WHERE p.point = 'active_power'
  GROUP BY 1, 2
),
win AS (
  SELECT site_id, (interval_start AT TIME ZONE 'Europe/Berlin')::date AS day,
    min(interval_start) FILTER (WHERE w > 0) AS first_q, max(interval_start) FILTER (WHERE w > 0) AS last_q
  FROM pq GROUP BY 1, 2
),
av AS (
  SELECT win.site_id, win.day, count(*) AS with_data, count(*) FILTER (WHERE pq.w > 0) AS producing
  FROM win JOIN pq ON pq.site_id = win.site_id AND pq.interval_start BETWEEN win.first_q AND win.last_q
  GROUP BY 1, 2
)
SELECT e.site_id, e.day,
  round((e.production_wh / 1000)::numeric, 3) AS production_kwh,
  round((e.export_wh / 1000)::numeric, 3) AS export_kwh,
  round((e.import_wh / 1000)::numeric, 3) AS import_kwh,
  round((e.charged_wh / 1000)::numeric, 3) AS battery_charged_kwh,
  round((e.discharged_wh / 1000)::numeric, 3) AS battery_discharged_kwh,
  round((e.production_wh / 1000 / nullif(s.kwp, 0))::numeric, 3) AS specific_yield_kwh_per_kwp,
  round(((e.production_wh - e.export_wh) / nullif(e.production_wh, 0))::numeric, 4) AS self_consumption_rate,
  round((1 - e.import_wh / nullif(e.production_wh - e.export_wh + e.import_wh
    - coalesce(e.charged_wh, 0) + coalesce(e.discharged_wh, 0), 0))::numeric, 4) AS autarky_rate,
  round((av.producing::numeric / nullif(av.with_data, 0)), 4) AS availability,
  NULL::numeric AS performance_ratio,
  e.estimated
FROM e JOIN curated.dim_site s ON s.site_id = e.site_id
LEFT JOIN av ON av.site_id = e.site_id AND av.day = e.day;
CREATE UNIQUE INDEX site_daily_key ON serving.site_daily (site_id, day);

CREATE MATERIALIZED VIEW serving.site_monthly AS
SELECT site_id, date_trunc('month', day)::date AS month, count(*) AS days,
  sum(production_kwh) AS production_kwh, sum(export_kwh) AS export_kwh, sum(import_kwh) AS import_kwh,
  sum(specific_yield_kwh_per_kwp) AS specific_yield_kwh_per_kwp,
  round(sum(production_kwh - export_kwh) / nullif(sum(production_kwh), 0), 4) AS self_consumption_rate,
  bool_or(estimated) AS estimated
FROM serving.site_daily GROUP BY 1, 2;
CREATE UNIQUE INDEX site_monthly_key ON serving.site_monthly (site_id, month);
