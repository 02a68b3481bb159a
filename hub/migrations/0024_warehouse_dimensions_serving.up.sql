-- The warehouse's dimensions, device-status and project facts, and its serving views
-- (hub/src/warehouse/reference.ts, serving.ts). Dimensions and ERP facts are tables the loader
-- keeps in line with the ERP (upserting only what differs, removing what is gone), so the analyst
-- layer never needs rights on erp.

CREATE TABLE curated.dim_customer (
  customer_id uuid PRIMARY KEY,
  name text NOT NULL,
  kind text NOT NULL,
  postal_code text,
  city text,
  country text NOT NULL
);

CREATE TABLE curated.dim_site (
  site_id uuid PRIMARY KEY,
  customer_id uuid NOT NULL,
  name text NOT NULL,
  postal_code text,
  city text,
  country text NOT NULL,
  kwp numeric(10, 3),
  commissioning_date date
);

-- Devices that report telemetry (edge_id, device_id), with their share of the site's kWp (the
-- site's kWp split evenly over its inverters; null for other kinds).
CREATE TABLE curated.dim_device (
  device_key uuid PRIMARY KEY,
  site_id uuid NOT NULL,
  edge_id text NOT NULL,
  device_id text NOT NULL,
  kind text NOT NULL,
  manufacturer text,
  model text,
  serial_number text,
  kwp_share numeric(10, 3),
  UNIQUE (edge_id, device_id)
);

-- Europe/Berlin calendar days: a DST day has 92 or 100 quarter-hours.
CREATE TABLE curated.dim_date (
  day date PRIMARY KEY,
  year integer NOT NULL,
  quarter integer NOT NULL,
  month integer NOT NULL,
  day_of_month integer NOT NULL,
  iso_year integer NOT NULL,
  iso_week integer NOT NULL,
  iso_weekday integer NOT NULL,
  weekend boolean NOT NULL,
  quarter_hours integer NOT NULL
);
INSERT INTO curated.dim_date
SELECT d::date, extract(year FROM d), extract(quarter FROM d), extract(month FROM d), extract(day FROM d),
  extract(isoyear FROM d), extract(week FROM d), extract(isodow FROM d), extract(isodow FROM d) >= 6,
  (extract(epoch FROM ((d::date + 1)::timestamp AT TIME ZONE 'Europe/Berlin') - (d::date::timestamp AT TIME ZONE 'Europe/Berlin')) / 900)::integer
FROM generate_series(DATE '2015-01-01', DATE '2045-12-31', interval '1 day') d;

-- Local time of day by quarter-hour (0 = 00:00–00:15).
CREATE TABLE curated.dim_time (
  quarter_of_day integer PRIMARY KEY CHECK (quarter_of_day BETWEEN 0 AND 95),
  hour integer NOT NULL,
  minute integer NOT NULL,
  label text NOT NULL
);
INSERT INTO curated.dim_time
SELECT q, q / 4, (q % 4) * 15, lpad((q / 4)::text, 2, '0') || ':' || lpad(((q % 4) * 15)::text, 2, '0')
FROM generate_series(0, 95) q;

-- Fault and silence intervals of devices and edges, from the service tickets the hub opens itself.
CREATE TABLE curated.fact_device_status (
  ticket_id uuid PRIMARY KEY,
  edge_id text NOT NULL,
  -- null for an edge that fell silent
  device_id text,
  status text NOT NULL CHECK (status IN ('fault', 'silence')),
  code text,
  started_at timestamptz NOT NULL,
  -- null while it lasts
  ended_at timestamptz
);
CREATE INDEX fact_device_status_device ON curated.fact_device_status (edge_id, device_id, started_at);

-- Hours and material cost per project against what was invoiced.
CREATE TABLE curated.fact_project (
  project_id uuid PRIMARY KEY,
  customer_id uuid NOT NULL,
  site_id uuid,
  kind text NOT NULL,
  status text NOT NULL,
  budget_cents bigint,
  hours numeric(10, 2) NOT NULL,
  hours_invoiced numeric(10, 2) NOT NULL,
  -- issued minus returned, at the articles' purchase prices (articles without one count 0)
  material_cost_cents bigint NOT NULL,
  -- finalised invoices minus credit notes, net
  invoiced_net_cents bigint NOT NULL
);

-- Serving: per site and local day. Production from the inverters' energy_exported, grid from the
-- meter's counters, battery from its counters; rates only where their inputs exist; availability
-- over the site's production window (first to last producing quarter) counting only quarters with
-- power data (no data is excluded, not counted as down); no performance ratio without irradiance.
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

CREATE MATERIALIZED VIEW serving.project_margin AS
SELECT project_id, customer_id, site_id, kind, status, budget_cents, hours, hours_invoiced, material_cost_cents,
  invoiced_net_cents, invoiced_net_cents - material_cost_cents AS margin_before_labour_cents,
  round((invoiced_net_cents - material_cost_cents)::numeric / nullif(invoiced_net_cents, 0), 4) AS margin_rate
FROM curated.fact_project;
CREATE UNIQUE INDEX project_margin_key ON serving.project_margin (project_id);

-- When a job's outputs last changed: a serving job refreshes when an upstream's is newer than its own.
ALTER TABLE ops.warehouse_jobs ADD COLUMN changed_at timestamptz;
