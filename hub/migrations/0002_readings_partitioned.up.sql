-- Telemetry at scale: readings range-partitioned by day (created ahead and on demand, so old
-- days can be detached for archiving or dropped by retention), integer series ids instead of
-- text keys in every row, and exactly-once kept per edge as the set of committed seq ranges
-- (a unique index on (edge_id, seq) cannot span time partitions, and a backfill lane delivers
-- seqs out of order).

CREATE TABLE raw.series (
  series_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  edge_id text NOT NULL REFERENCES raw.edges (edge_id),
  device_id text NOT NULL,
  point text NOT NULL,
  UNIQUE (edge_id, device_id, point)
);

ALTER TABLE raw.edges
  -- Every seq stored for this edge; updated under the edge row's lock in each batch transaction.
  ADD COLUMN committed int8multirange NOT NULL DEFAULT '{}',
  -- Seqs the edge reported as given up (evicted, rejected, lost with a corrupt buffer).
  ADD COLUMN gaps int8multirange NOT NULL DEFAULT '{}',
  -- |clock_offset_ms| beyond the hub's threshold at the last hello.
  ADD COLUMN clock_skewed boolean NOT NULL DEFAULT false,
  ADD COLUMN clock_synced boolean;

COMMENT ON COLUMN raw.edges.committed_seq IS
  'Highest seq S such that every seq 1..S is stored or reported as a gap';

-- Gap records as the edge reported them.
CREATE TABLE raw.edge_gaps (
  edge_id text NOT NULL REFERENCES raw.edges (edge_id),
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  -- Readings the edge gave up in the range; 0 when it could not tell (a lost buffer).
  count bigint NOT NULL,
  reason text NOT NULL,
  from_ts timestamptz,
  to_ts timestamptz,
  reported_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (edge_id, first_seq, last_seq, reason)
);

ALTER TABLE raw.readings RENAME TO readings_v1;
ALTER INDEX raw.readings_pkey RENAME TO readings_v1_pkey;
ALTER INDEX raw.readings_ts RENAME TO readings_v1_ts;
ALTER INDEX raw.readings_series_ts RENAME TO readings_v1_series_ts;

CREATE TABLE raw.readings (
  series_id integer NOT NULL,
  seq bigint NOT NULL,
  ts timestamptz NOT NULL,
  value double precision,
  -- steinmetz.sync.v1.Quality: 1 good, 2 not implemented, 3 stale, 4 comm error, 5 out of range
  quality smallint NOT NULL CHECK (quality BETWEEN 1 AND 5),
  clock_synced boolean NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
) PARTITION BY RANGE (ts);

CREATE INDEX readings_series_ts ON raw.readings (series_id, ts);

-- Readings whose day has no partition (a clock far off, e.g. 1970 on a Pi without RTC).
CREATE TABLE raw.readings_default PARTITION OF raw.readings DEFAULT;

-- Creates the partition of one UTC day if missing, moving that day's rows out of the default
-- partition first; safe to call concurrently. Returns the partition's name.
CREATE FUNCTION raw.ensure_readings_partition(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  part text := 'readings_' || to_char(day, 'YYYYMMDD');
  lo timestamptz := day::timestamp AT TIME ZONE 'UTC';
  hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'UTC';
BEGIN
  IF to_regclass('raw.' || part) IS NOT NULL THEN
    RETURN part;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('raw.readings partitions'));
  IF to_regclass('raw.' || part) IS NOT NULL THEN
    RETURN part;
  END IF;
  EXECUTE format('CREATE TABLE raw.%I (LIKE raw.readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
  EXECUTE format('ALTER TABLE raw.%I ADD CONSTRAINT %I CHECK (ts >= %L AND ts < %L)', part, part || '_day', lo, hi);
  EXECUTE format('INSERT INTO raw.%I SELECT * FROM raw.readings_default WHERE ts >= %L AND ts < %L', part, lo, hi);
  DELETE FROM raw.readings_default WHERE ts >= lo AND ts < hi;
  EXECUTE format('ALTER TABLE raw.readings ATTACH PARTITION raw.%I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
  RETURN part;
END
$$;

-- Carry over what version 1 stored.
INSERT INTO raw.series (edge_id, device_id, point)
SELECT DISTINCT edge_id, device_id, point FROM raw.readings_v1 ORDER BY 1, 2, 3;

SELECT raw.ensure_readings_partition(day)
FROM (SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date AS day FROM raw.readings_v1) days;

INSERT INTO raw.readings (series_id, seq, ts, value, quality, clock_synced, received_at)
SELECT s.series_id, r.seq, r.ts, r.value, r.quality, r.clock_synced, r.received_at
FROM raw.readings_v1 r JOIN raw.series s USING (edge_id, device_id, point);

UPDATE raw.edges e
SET committed = coalesce(
  (SELECT range_agg(int8range(r.seq, r.seq, '[]')) FROM raw.readings_v1 r WHERE r.edge_id = e.edge_id),
  '{}');

DROP TABLE raw.readings_v1;
