-- Platform state in `ops`: stored responses of Idempotency-Key requests and the dead letter queue.
CREATE SCHEMA IF NOT EXISTS ops;

-- One row per (principal, key): claimed 'in_flight' in its own transaction before the handler
-- runs, then 'done' with the first response, written in the handler's own transaction.
CREATE TABLE ops.idempotency_keys (
  principal_id text NOT NULL,
  key text NOT NULL,
  -- SHA-256 (hex) of method, path and body of the first request with this key.
  fingerprint text NOT NULL,
  method text NOT NULL,
  path text NOT NULL,
  state text NOT NULL DEFAULT 'in_flight' CHECK (state IN ('in_flight', 'done')),
  -- Random token of the current holder: storing the response checks it, so a holder whose lease
  -- was taken over cannot commit its effect as well.
  claim_token uuid NOT NULL,
  -- An in-flight claim older than this (a crashed hub) may be taken over.
  lease_until timestamptz NOT NULL,
  response_status integer,
  response_headers jsonb,
  response_body text,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  PRIMARY KEY (principal_id, key)
);
CREATE INDEX idempotency_keys_created_at ON ops.idempotency_keys (created_at);

-- Data the hub refused or could not process, kept for inspection, redrive or discard.
CREATE TABLE ops.dead_letters (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Where it came from and which handler can redrive it, e.g. 'sync.upload'.
  source text NOT NULL,
  payload jsonb,
  payload_bytes bytea,
  -- SHA-256 of the payload: the same refused payload again counts as another attempt of the
  -- pending dead letter instead of a new one (an edge resending a bad batch).
  fingerprint text NOT NULL,
  error_code text NOT NULL,
  error_message text NOT NULL,
  attempts integer NOT NULL DEFAULT 1,
  first_failed_at timestamptz NOT NULL DEFAULT now(),
  last_failed_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'redriven', 'discarded')),
  resolved_at timestamptz,
  resolved_by text,
  version integer NOT NULL DEFAULT 1,
  CHECK (payload IS NOT NULL OR payload_bytes IS NOT NULL)
);
CREATE INDEX dead_letters_status_id ON ops.dead_letters (status, id);
CREATE INDEX dead_letters_source_id ON ops.dead_letters (source, id);
CREATE UNIQUE INDEX dead_letters_pending_fingerprint ON ops.dead_letters (source, fingerprint) WHERE status = 'pending';

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
