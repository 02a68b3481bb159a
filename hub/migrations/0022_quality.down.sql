ALTER TABLE ops.warehouse_jobs DROP COLUMN blocked_by;
DROP TABLE ops.quality_results;
