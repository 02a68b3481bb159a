-- Back to one unpartitioned table keyed by (edge_id, seq); gap records are dropped.
CREATE TABLE raw.readings_v1 (
  edge_id text NOT NULL,
  seq bigint NOT NULL,
  device_id text NOT NULL,
  point text NOT NULL,
  ts timestamptz NOT NULL,
  value double precision,
  quality smallint NOT NULL CHECK (quality BETWEEN 1 AND 5),
  clock_synced boolean NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (edge_id, seq)
);

INSERT INTO raw.readings_v1 (edge_id, seq, device_id, point, ts, value, quality, clock_synced, received_at)
SELECT s.edge_id, r.seq, s.device_id, s.point, r.ts, r.value, r.quality, r.clock_synced, r.received_at
FROM raw.readings r JOIN raw.series s USING (series_id);

DROP TABLE raw.readings;
DROP FUNCTION raw.ensure_readings_partition(date);
DROP TABLE raw.edge_gaps;
DROP TABLE raw.series;
ALTER TABLE raw.edges
  DROP COLUMN committed,
  DROP COLUMN gaps,
  DROP COLUMN clock_skewed,
  DROP COLUMN clock_synced;

ALTER TABLE raw.readings_v1 RENAME TO readings;
ALTER INDEX raw.readings_v1_pkey RENAME TO readings_pkey;
CREATE INDEX readings_ts ON raw.readings (ts);
CREATE INDEX readings_series_ts ON raw.readings (edge_id, device_id, point, ts);
