-- Back to one unpartitioned table keyed by (edge_id, seq), created as 0001 did (so constraint and
-- index names are 0001's); gap records are dropped.
ALTER TABLE raw.readings RENAME TO readings_v2;
ALTER INDEX raw.readings_series_ts RENAME TO readings_v2_series_ts;

CREATE TABLE raw.readings (
  edge_id text NOT NULL,
  seq bigint NOT NULL,
  device_id text NOT NULL,
  point text NOT NULL,
  ts timestamptz NOT NULL,
  value double precision,
  -- steinmetz.sync.v1.Quality: 1 good, 2 not implemented, 3 stale, 4 comm error, 5 out of range
  quality smallint NOT NULL CHECK (quality BETWEEN 1 AND 5),
  clock_synced boolean NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (edge_id, seq)
);

INSERT INTO raw.readings (edge_id, seq, device_id, point, ts, value, quality, clock_synced, received_at)
SELECT s.edge_id, r.seq, s.device_id, s.point, r.ts, r.value, r.quality, r.clock_synced, r.received_at
FROM raw.readings_v2 r JOIN raw.series s USING (series_id);

-- with its day partitions (detached ones are plain tables by then and stay)
DROP TABLE raw.readings_v2;
DROP FUNCTION raw.ensure_readings_partition(date);
DROP TABLE raw.edge_gaps;
DROP TABLE raw.series;
ALTER TABLE raw.edges
  DROP COLUMN committed,
  DROP COLUMN gaps,
  DROP COLUMN clock_skewed,
  DROP COLUMN clock_synced;
COMMENT ON COLUMN raw.edges.committed_seq IS NULL;

CREATE INDEX readings_ts ON raw.readings (ts);
CREATE INDEX readings_series_ts ON raw.readings (edge_id, device_id, point, ts);
