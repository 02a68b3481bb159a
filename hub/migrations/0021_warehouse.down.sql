DROP TABLE ops.warehouse_runs;
DROP TABLE ops.warehouse_jobs;
DROP TABLE curated.fact_power_15min;
DROP TABLE curated.fact_energy_15min;
DROP VIEW staging.readings;
DROP TABLE staging.points;
DROP INDEX raw.readings_ingest_xid;
ALTER TABLE raw.readings DROP COLUMN ingest_xid;
