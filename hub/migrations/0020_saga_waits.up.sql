-- Sagas that wait (hub/src/sagas/): a step may wait for a time (a durable timer) or for an
-- approval request's decision; it is run again when the time comes or the decision is made.
-- The starter's principal is kept so a step can ask for an approval in their name (a second
-- person must decide it).

ALTER TABLE saga.instances
  -- what a waiting saga waits for besides its time (run_at): 'approval:<request id>'
  ADD COLUMN waiting_on text CHECK (length(waiting_on) <= 300),
  -- who started it: {id, kind, name} of the principal (null for sagas the hub started itself)
  ADD COLUMN started_by_principal jsonb;
CREATE INDEX instances_waiting_on ON saga.instances (waiting_on) WHERE state = 'waiting';
-- a claim also takes waiting sagas whose time has come
DROP INDEX saga.instances_runnable;
CREATE INDEX instances_runnable ON saga.instances (run_at) WHERE state IN ('running', 'compensating', 'waiting');

ALTER TABLE saga.step_runs DROP CONSTRAINT step_runs_outcome_check,
  ADD CONSTRAINT step_runs_outcome_check CHECK (outcome IN ('succeeded', 'failed', 'retrying', 'waiting'));

-- Outbox events are delivered to their handler in the transaction that marks them published; a
-- handler that fails is tried again later, and after ten failures the event is dead-lettered.
ALTER TABLE saga.outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0, ADD COLUMN error jsonb,
  ADD COLUMN available_at timestamptz NOT NULL DEFAULT now();
DROP INDEX saga.outbox_unpublished;
CREATE INDEX outbox_unpublished ON saga.outbox (available_at, id) WHERE published_at IS NULL;

-- A decision on an approval request (approved, rejected, expired, executed) wakes the sagas
-- waiting for it, in the decision's transaction.
CREATE FUNCTION saga.wake_on_approval() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE saga.instances SET run_at = now(), updated_at = now()
  WHERE state = 'waiting' AND waiting_on = 'approval:' || NEW.id;
  RETURN NULL;
END
$$;
CREATE TRIGGER approval_requests_wake_sagas AFTER UPDATE OF status ON ops.approval_requests
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION saga.wake_on_approval();

-- The audit trail records a saga's state changes with everything but its step outputs: an output
-- may carry a secret handed over once (an edge's enrollment code), and the trail keeps forever.
CREATE FUNCTION saga.log_instance_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_before jsonb;
  v_after jsonb;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN v_before := to_jsonb(OLD) - 'outputs'; END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN v_after := to_jsonb(NEW) - 'outputs'; END IF;
  PERFORM audit.append(TG_TABLE_SCHEMA, TG_TABLE_NAME, coalesce(v_after, v_before) ->> 'id', TG_OP, v_before, v_after);
  RETURN NULL;
END
$$;
DROP TRIGGER instances_audit ON saga.instances;
CREATE TRIGGER instances_audit AFTER INSERT OR DELETE OR UPDATE OF state ON saga.instances
  FOR EACH ROW EXECUTE FUNCTION saga.log_instance_change();

-- Installation tickets opened by an order (the order-to-commissioning saga): cause 'order:<saga id>'.
ALTER TABLE erp.tickets DROP CONSTRAINT tickets_source_check,
  ADD CONSTRAINT tickets_source_check CHECK (source IN ('manual', 'device_fault', 'silence', 'order'));
