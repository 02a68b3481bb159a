-- The schema `erp` stays (created by the schemas migration when present); audit records of
-- customers stay in the audit trail.
DROP TABLE erp.customers;
