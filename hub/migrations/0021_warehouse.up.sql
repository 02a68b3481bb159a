-- The warehouse inside the hub (hub/src/warehouse/): raw → staging → curated, loaded by jobs that
-- follow what was committed, not reading timestamps.
--
-- Watermarks: every raw reading carries the id of the transaction that stored it (ingest_xid,
-- pg_current_xact_id()). A job's window is [its watermark, the xmin of its snapshot): every
-- transaction below that xmin has ended, so no reading of the window can still commit later — a
-- reading that arrives days late (a backfilling edge) has a new xid and falls into the next window.
-- Readings stored before this migration have none and belong to the first window.

ALTER TABLE raw.readings ADD COLUMN ingest_xid bigint;
ALTER TABLE raw.readings ALTER COLUMN ingest_xid SET DEFAULT (pg_current_xact_id()::text::bigint);
-- BRIN: readings are appended in commit order per partition, so block ranges map to xid ranges
CREATE INDEX readings_ingest_xid ON raw.readings USING brin (ingest_xid) WITH (pages_per_range = 32);

-- The canonical points of the natures with their units and how they aggregate (kept by the
-- loader from firmware-config's natures at each run).
CREATE TABLE staging.points (
  point text PRIMARY KEY,
  unit text NOT NULL,
  -- counter: a lifetime energy counter (energy per quarter from it); power: W (avg/min/max); gauge: anything else
  kind text NOT NULL CHECK (kind IN ('counter', 'power', 'gauge')),
  description text
);

-- Typed readings: series resolved to edge, device and point, the unit from the natures, and of
-- several readings of one series at one instant the one with the lowest seq.
CREATE VIEW staging.readings WITH (security_invoker = true) AS
SELECT DISTINCT ON (r.series_id, r.ts)
  r.series_id, s.edge_id, s.device_id, s.point, p.unit, p.kind, r.ts, r.value, r.quality,
  (r.quality = 1 AND r.value IS NOT NULL) AS usable, r.clock_synced, r.seq, r.received_at
FROM raw.readings r
JOIN raw.series s ON s.series_id = r.series_id
LEFT JOIN staging.points p ON p.point = s.point
ORDER BY r.series_id, r.ts, r.seq;

-- Energy per counter series and UTC quarter-hour (hub/src/warehouse/energy.ts has the rules).
CREATE TABLE curated.fact_energy_15min (
  series_id integer NOT NULL,
  edge_id text NOT NULL,
  device_id text NOT NULL,
  point text NOT NULL,
  interval_start timestamptz NOT NULL CHECK (extract(epoch FROM interval_start)::bigint % 900 = 0),
  energy_wh double precision NOT NULL,
  -- a boundary interpolated across a gap longer than twice the usual spacing
  estimated boolean NOT NULL,
  -- counter resets shown by samples in the quarter
  resets integer NOT NULL CHECK (resets >= 0),
  PRIMARY KEY (series_id, interval_start)
);
CREATE INDEX fact_energy_15min_edge ON curated.fact_energy_15min (edge_id, interval_start);

-- Power per series (points in W) and UTC quarter-hour, from the usable samples in it.
CREATE TABLE curated.fact_power_15min (
  series_id integer NOT NULL,
  edge_id text NOT NULL,
  device_id text NOT NULL,
  point text NOT NULL,
  interval_start timestamptz NOT NULL CHECK (extract(epoch FROM interval_start)::bigint % 900 = 0),
  avg_w double precision NOT NULL,
  min_w double precision NOT NULL,
  max_w double precision NOT NULL,
  samples integer NOT NULL CHECK (samples > 0),
  PRIMARY KEY (series_id, interval_start)
);
CREATE INDEX fact_power_15min_edge ON curated.fact_power_15min (edge_id, interval_start);

-- Jobs and their runs.
CREATE TABLE ops.warehouse_jobs (
  job text PRIMARY KEY CHECK (job ~ '^[a-z][a-z0-9_.-]{0,63}$'),
  -- every reading with ingest_xid below it is loaded
  watermark bigint NOT NULL DEFAULT 0,
  -- a failed run is tried again from here on (backoff)
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  failures integer NOT NULL DEFAULT 0,
  last_run_id uuid,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ops.warehouse_runs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job text NOT NULL REFERENCES ops.warehouse_jobs,
  kind text NOT NULL CHECK (kind IN ('incremental', 'backfill')),
  -- incremental: the xid window; backfill: the reading time range
  from_xid bigint,
  to_xid bigint,
  from_ts timestamptz,
  to_ts timestamptz,
  status text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  ended_at timestamptz,
  -- readings and series the window touched, rows inserted/updated in the output
  readings integer,
  series integer,
  rows_written integer,
  error jsonb
);
CREATE INDEX warehouse_runs_job ON ops.warehouse_runs (job, started_at DESC);
