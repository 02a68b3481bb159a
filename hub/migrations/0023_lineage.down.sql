DROP TABLE ops.lineage_events;
