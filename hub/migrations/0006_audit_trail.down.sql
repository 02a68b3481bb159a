-- The schema `audit` stays (created by the schemas migration when present).
DROP TABLE audit.chain_head;
DROP TABLE audit.records;
DROP FUNCTION audit.refuse_change();
DROP FUNCTION audit.log_change();
DROP FUNCTION audit.append(text, text, text, text, jsonb, jsonb);
DROP FUNCTION audit.record_hash(bigint, smallint, timestamptz, text, text, text, text, text, text, text, text, jsonb, jsonb, jsonb, text);
DROP FUNCTION audit.field(text);
