-- Data-quality results of the warehouse (hub/src/warehouse/quality.ts, rules in
-- hub/warehouse/quality-rules.yaml): one row per rule and evaluation, with GX-style counters.
-- steinmetz_app reads and writes it through the default privileges on ops (migration 0003).
CREATE TABLE ops.quality_results (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  rule text NOT NULL CHECK (rule ~ '^[a-z0-9_.-]{1,128}$'),
  -- schema.table the rule looked at
  dataset text NOT NULL,
  -- the warehouse run whose window was checked (recorded in the same transaction); null: a
  -- freshness check of a pass
  run_id uuid REFERENCES ops.warehouse_runs ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  job text,
  -- incremental: xids [from, to); backfill: reading times [from, to); pass: the check's time
  window_kind text NOT NULL CHECK (window_kind IN ('incremental', 'backfill', 'pass')),
  window_from text,
  window_to text,
  status text NOT NULL CHECK (status IN ('pass', 'fail')),
  -- the rule's severity (freshness: the level reached when it failed)
  severity text NOT NULL CHECK (severity IN ('error', 'warn')),
  -- rows (or edges) checked, those failing, failures / elements (null when nothing was checked)
  elements bigint NOT NULL CHECK (elements >= 0),
  failures bigint NOT NULL CHECK (failures >= 0 AND failures <= elements),
  failure_share double precision CHECK (failure_share BETWEEN 0 AND 1),
  -- keys (and values) of up to 10 failing rows
  sample_keys jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(sample_keys) = 'array' AND jsonb_array_length(sample_keys) <= 10),
  checked_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX quality_results_checked ON ops.quality_results (checked_at DESC);
CREATE INDEX quality_results_dataset_rule ON ops.quality_results (dataset, rule, checked_at DESC);
CREATE INDEX quality_results_rule ON ops.quality_results (rule, checked_at DESC);
CREATE INDEX quality_results_run ON ops.quality_results (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX quality_results_failed ON ops.quality_results (checked_at DESC) WHERE status = 'fail';

-- The failed rules of severity error on a job's last loaded window: its downstream jobs wait
-- until a later window of it passes.
ALTER TABLE ops.warehouse_jobs ADD COLUMN blocked_by text[];
