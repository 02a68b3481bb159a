-- GoBD audit trail: append-only records with before/after state, actor, request id, reason and
-- tags, chained by SHA-256 (each record's hash covers its canonical content and the previous
-- record's hash in the same chain). There are 16 chains, a transaction appends to the one of
-- its transaction id (txid % 16): appends of concurrent transactions serialise only per chain
-- (each chain's head row is locked until commit), and a removed or changed record still breaks
-- its chain. Writes to `erp` tables append a record in the same transaction by trigger, so
-- no write can bypass it; the actor comes from transaction-local settings the repositories set:
-- set_config('steinmetz.actor_id' | 'steinmetz.actor_name' | 'steinmetz.request_id' |
-- 'steinmetz.reason' | 'steinmetz.tags', value, true).
CREATE SCHEMA IF NOT EXISTS audit;

CREATE SEQUENCE audit.records_id_seq;

CREATE TABLE audit.records (
  id bigint PRIMARY KEY,
  chain smallint NOT NULL,
  at timestamptz NOT NULL,
  schema_name text NOT NULL,
  table_name text NOT NULL,
  entity_id text,
  -- INSERT, UPDATE, DELETE (by trigger) or an action appended explicitly (REDRIVE, DISCARD, READ, ...)
  op text NOT NULL,
  actor_id text NOT NULL,
  actor_name text,
  request_id text,
  reason text,
  tags jsonb NOT NULL DEFAULT '[]',
  before jsonb,
  after jsonb,
  prev_hash text NOT NULL,
  hash text NOT NULL
);
ALTER SEQUENCE audit.records_id_seq OWNED BY audit.records.id;
CREATE INDEX records_at ON audit.records (at);
CREATE INDEX records_chain_id ON audit.records (chain, id);
CREATE INDEX records_entity ON audit.records (schema_name, table_name, entity_id, id);

-- The end of each chain; its row lock serialises the chain's appends until commit.
CREATE TABLE audit.chain_head (
  chain smallint PRIMARY KEY CHECK (chain BETWEEN 0 AND 15),
  last_id bigint NOT NULL,
  last_hash text NOT NULL
);
INSERT INTO audit.chain_head (chain, last_id, last_hash) SELECT c, 0, repeat('0', 64) FROM generate_series(0, 15) c;

-- One field of the canonical content: '<bytes>:<value>;' or '-;' for NULL.
CREATE FUNCTION audit.field(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN v IS NULL THEN '-;' ELSE octet_length(v)::text || ':' || v || ';' END
$$;

-- SHA-256 (hex) over a record's canonical content and the previous hash. `audit verify`
-- recomputes it outside the database from the stored columns.
CREATE FUNCTION audit.record_hash(
  p_id bigint, p_chain smallint, p_at timestamptz, p_schema text, p_table text, p_entity_id text, p_op text,
  p_actor_id text, p_actor_name text, p_request_id text, p_reason text, p_tags jsonb,
  p_before jsonb, p_after jsonb, p_prev_hash text
) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(
    audit.field(p_id::text) || audit.field(p_chain::text)
    || audit.field(to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
    || audit.field(p_schema) || audit.field(p_table) || audit.field(p_entity_id) || audit.field(p_op)
    || audit.field(p_actor_id) || audit.field(p_actor_name) || audit.field(p_request_id)
    || audit.field(p_reason) || audit.field(p_tags::text) || audit.field(p_before::text)
    || audit.field(p_after::text) || audit.field(p_prev_hash),
    'UTF8')), 'hex')
$$;

-- Appends one record to the chain (in the caller's transaction) and returns its id.
CREATE FUNCTION audit.append(
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

-- Row trigger for audited tables (every table in `erp`): before/after as JSONB.
CREATE FUNCTION audit.log_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_before jsonb;
  v_after jsonb;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN v_before := to_jsonb(OLD); END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN v_after := to_jsonb(NEW); END IF;
  PERFORM audit.append(TG_TABLE_SCHEMA, TG_TABLE_NAME, coalesce(v_after, v_before) ->> 'id', TG_OP, v_before, v_after);
  RETURN NULL;
END
$$;

-- Append-only, also for the table's owner: UPDATE, DELETE and TRUNCATE are refused.
CREATE FUNCTION audit.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit.records is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER records_append_only BEFORE UPDATE OR DELETE ON audit.records
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER records_no_truncate BEFORE TRUNCATE ON audit.records
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- And by grants: nobody but the owner (the migration role) holds any privilege on the chain;
-- appends go through the SECURITY DEFINER functions above.
REVOKE ALL ON audit.records, audit.chain_head, audit.records_id_seq FROM PUBLIC;
DO $$
DECLARE r text;
BEGIN
  FOR r IN SELECT rolname FROM pg_roles
           WHERE NOT rolsuper AND rolname !~ '^pg_' AND rolname <> current_user LOOP
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit.records, audit.chain_head FROM %I', r);
  END LOOP;
END
$$;
