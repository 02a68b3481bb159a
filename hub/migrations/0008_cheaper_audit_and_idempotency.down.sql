-- Back to the audit appends and idempotency claims of 0005/0006.
DROP FUNCTION ops.claim_idempotency_key(text, text);

-- Stores the first response of a claimed key in the handler's transaction; raises SQLSTATE
-- SZ409 when the claim was taken over meanwhile (the caller rolls its effect back).
CREATE FUNCTION ops.complete_idempotency_key(
  p_principal text, p_key text, p_token uuid, p_status integer, p_headers jsonb, p_body text
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ops.idempotency_keys
  SET state = 'done', response_status = p_status, response_headers = p_headers, response_body = p_body,
      completed_at = now()
  WHERE principal_id = p_principal AND key = p_key AND claim_token = p_token AND state = 'in_flight';
  IF NOT FOUND THEN
    RAISE EXCEPTION 'idempotency key % was taken over', p_key USING ERRCODE = 'SZ409';
  END IF;
END
$$;

COMMENT ON TABLE ops.idempotency_keys IS NULL;
-- Rows written with their response (no claim of their own) get a token and a lease in the past.
UPDATE ops.idempotency_keys SET claim_token = coalesce(claim_token, gen_random_uuid()), lease_until = coalesce(lease_until, created_at)
WHERE claim_token IS NULL OR lease_until IS NULL;
ALTER TABLE ops.idempotency_keys ALTER COLUMN claim_token SET NOT NULL, ALTER COLUMN lease_until SET NOT NULL;

CREATE OR REPLACE FUNCTION audit.append(
  p_schema text, p_table text, p_entity_id text, p_op text, p_before jsonb, p_after jsonb
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_prev text;
  v_chain smallint := (txid_current() % 16)::smallint;
  v_id bigint;
  v_at timestamptz := clock_timestamp();
  v_actor_id text := coalesce(nullif(current_setting('steinmetz.actor_id', true), ''), 'db:' || session_user);
  v_actor_name text := nullif(current_setting('steinmetz.actor_name', true), '');
  v_request_id text := nullif(current_setting('steinmetz.request_id', true), '');
  v_reason text := nullif(current_setting('steinmetz.reason', true), '');
  v_tags jsonb := coalesce(nullif(current_setting('steinmetz.tags', true), '')::jsonb, '[]'::jsonb);
  v_hash text;
BEGIN
  SELECT last_hash INTO v_prev FROM audit.chain_head WHERE chain = v_chain FOR UPDATE;
  v_id := nextval('audit.records_id_seq');
  v_hash := audit.record_hash(v_id, v_chain, v_at, p_schema, p_table, p_entity_id, p_op, v_actor_id, v_actor_name,
    v_request_id, v_reason, v_tags, p_before, p_after, v_prev);
  INSERT INTO audit.records (id, chain, at, schema_name, table_name, entity_id, op, actor_id, actor_name, request_id,
    reason, tags, before, after, prev_hash, hash)
  VALUES (v_id, v_chain, v_at, p_schema, p_table, p_entity_id, p_op, v_actor_id, v_actor_name, v_request_id,
    v_reason, v_tags, p_before, p_after, v_prev, v_hash);
  UPDATE audit.chain_head SET last_id = v_id, last_hash = v_hash WHERE chain = v_chain;
  RETURN v_id;
END
$$;
