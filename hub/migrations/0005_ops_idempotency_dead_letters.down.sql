-- The schema `ops` stays: it holds the migration ledger.
DROP FUNCTION ops.complete_idempotency_key(text, text, uuid, integer, jsonb, text);
DROP TABLE ops.dead_letters;
DROP TABLE ops.idempotency_keys;
