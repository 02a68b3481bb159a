-- Audit appends on every supported PostgreSQL (15 to 18): 0008's append returned the chain head's
-- previous hash with `RETURNING old.last_hash`, which exists only since PostgreSQL 18. The head
-- now keeps the hash it advanced from in `prev_hash`, set by the same UPDATE (every SET
-- expression reads the row as it was), so one statement still advances the head and returns
-- both hashes: same chain, same locks, same round trips.
ALTER TABLE audit.chain_head ADD COLUMN prev_hash text;

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
      prev_hash = last_hash,
      last_hash = audit.record_hash(v_id, v_chain, v_at, p_schema, p_table, p_entity_id, p_op, v_actor_id,
        v_actor_name, v_request_id, v_reason, v_tags, p_before, p_after, last_hash)
  WHERE chain = v_chain
  RETURNING prev_hash, last_hash INTO v_prev, v_hash;
  INSERT INTO audit.records (id, chain, at, schema_name, table_name, entity_id, op, actor_id, actor_name, request_id,
    reason, tags, before, after, prev_hash, hash)
  VALUES (v_id, v_chain, v_at, p_schema, p_table, p_entity_id, p_op, v_actor_id, v_actor_name, v_request_id,
    v_reason, v_tags, p_before, p_after, v_prev, v_hash);
  RETURN v_id;
END
$$;
