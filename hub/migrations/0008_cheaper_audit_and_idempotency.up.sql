-- Cheaper writes: what the audit trail and Idempotency-Key cost each write.
--
-- 1. Audit appends: a transaction appends to the first of the 16 chains no other transaction is
--    appending to (transaction-level advisory locks in their own key space, class 7340001,
--    tried from txid % 16 on, held until commit; when all 16 are taken it waits for the one at
--    txid % 16). Holding that lock, the chain head advances in one UPDATE that returns the
--    previous and the new hash: no row lock of its own, and concurrent writers do not wait for
--    one another as long as fewer than 16 write at once. A REPEATABLE READ transaction whose
--    snapshot misses the head's last change fails with a serialization error instead of forking
--    the chain, as before.
-- 2. Idempotency-Key claims for HTTP requests happen inside the request's own transaction: a
--    transaction-level advisory lock on the key (class 7340002) marks it in flight, and the row
--    is written once, with the response, in the commit of the request's effect. A crash leaves nothing
--    behind to take over. claim_token and lease_until remain for claims made in their own
--    transaction (gRPC request ids), so they are nullable now.
CREATE OR REPLACE FUNCTION audit.append(
  p_schema text, p_table text, p_entity_id text, p_op text, p_before jsonb, p_after jsonb
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_start smallint := (txid_current() % 16)::smallint;
  v_chain smallint;
  v_prev text;
  v_id bigint;
  v_at timestamptz := clock_timestamp();
  v_actor_id text := coalesce(nullif(current_setting('steinmetz.actor_id', true), ''), 'db:' || session_user);
  v_actor_name text := nullif(current_setting('steinmetz.actor_name', true), '');
  v_request_id text := nullif(current_setting('steinmetz.request_id', true), '');
  v_reason text := nullif(current_setting('steinmetz.reason', true), '');
  v_tags jsonb := coalesce(nullif(current_setting('steinmetz.tags', true), '')::jsonb, '[]'::jsonb);
  v_hash text;
BEGIN
  -- A chain this transaction already holds counts as free (the lock is re-entrant).
  FOR i IN 0..15 LOOP
    IF pg_try_advisory_xact_lock(7340001, (v_start + i) % 16) THEN
      v_chain := (v_start + i) % 16;
      EXIT;
    END IF;
  END LOOP;
  IF v_chain IS NULL THEN
    v_chain := v_start;
    PERFORM pg_advisory_xact_lock(7340001, v_chain);
  END IF;
  v_id := nextval('audit.records_id_seq');
  UPDATE audit.chain_head
  SET last_id = v_id,
      last_hash = audit.record_hash(v_id, v_chain, v_at, p_schema, p_table, p_entity_id, p_op, v_actor_id,
        v_actor_name, v_request_id, v_reason, v_tags, p_before, p_after, last_hash)
  WHERE chain = v_chain
  RETURNING old.last_hash, new.last_hash INTO v_prev, v_hash;
  INSERT INTO audit.records (id, chain, at, schema_name, table_name, entity_id, op, actor_id, actor_name, request_id,
    reason, tags, before, after, prev_hash, hash)
  VALUES (v_id, v_chain, v_at, p_schema, p_table, p_entity_id, p_op, v_actor_id, v_actor_name, v_request_id,
    v_reason, v_tags, p_before, p_after, v_prev, v_hash);
  RETURN v_id;
END
$$;

ALTER TABLE ops.idempotency_keys ALTER COLUMN claim_token DROP NOT NULL, ALTER COLUMN lease_until DROP NOT NULL;
COMMENT ON TABLE ops.idempotency_keys IS
  'One row per (principal, key): an HTTP request''s row is written with its first response in the request''s own transaction; a gRPC request id is claimed in_flight in its own transaction first.';

-- Claims (p_principal, p_key) for the calling transaction, until it ends. Raises SQLSTATE SZ409
-- when another transaction holds the key, SZ200 when a response is stored under it (or a claim
-- made in its own transaction is in flight): then the statements sent after it do not run.
CREATE FUNCTION ops.claim_idempotency_key(p_principal text, p_key text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT pg_try_advisory_xact_lock(7340002, hashtext(p_principal || E'\n' || p_key)) THEN
    RAISE EXCEPTION 'idempotency key % is in flight', p_key USING ERRCODE = 'SZ409';
  END IF;
  -- a statement of its own, with a new snapshot: it sees the previous holder's commit
  PERFORM FROM ops.idempotency_keys WHERE principal_id = p_principal AND key = p_key;
  IF FOUND THEN
    RAISE EXCEPTION 'idempotency key % is taken', p_key USING ERRCODE = 'SZ200';
  END IF;
END
$$;

-- The response is now stored by the INSERT that writes the key's row.
DROP FUNCTION ops.complete_idempotency_key(text, text, uuid, integer, jsonb, text);
