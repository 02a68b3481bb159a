-- Telemetry as the edges deliver it: one row per (edge_id, seq), stored exactly once.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE raw.edges (
  edge_id text PRIMARY KEY,
  -- Highest seq of this edge committed here; the edge resumes after it.
  committed_seq bigint NOT NULL DEFAULT 0,
  agent_version text,
  -- hub time minus edge time at the last hello, ms (clock skew; network delay included).
  clock_offset_ms bigint,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now()
);

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

CREATE INDEX readings_ts ON raw.readings (ts);
CREATE INDEX readings_series_ts ON raw.readings (edge_id, device_id, point, ts);
