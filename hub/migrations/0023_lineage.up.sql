-- OpenLineage RunEvents of the warehouse runs (hub/src/warehouse/lineage.ts), written in the
-- run's own transaction (a run has its START and its COMPLETE or FAIL exactly when its outcome
-- committed) and relayed from here, in id order, to an OpenLineage endpoint when one is set (an
-- outbox: an endpoint that is down loses nothing; each event is marked delivered after its 2xx).
-- The hub's runtime group reads and writes it by the default privileges of 0003.
CREATE TABLE ops.lineage_events (
  -- the delivery order
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- the OpenLineage runId (= ops.warehouse_runs.id)
  run_id uuid NOT NULL,
  job text NOT NULL,
  event_type text NOT NULL CHECK (event_type IN ('START', 'RUNNING', 'COMPLETE', 'ABORT', 'FAIL', 'OTHER')),
  event jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  -- POSTs tried (the one that succeeded included)
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  -- why the last try failed: { message, status? }
  last_error jsonb,
  -- a failed try is tried again from here on (the events after it wait, keeping the order)
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  -- the endpoint refused the event itself as invalid, repeatedly: set aside so the others flow
  rejected_at timestamptz,
  CHECK (delivered_at IS NULL OR rejected_at IS NULL)
);
-- what the relay looks for: the oldest event still to send
CREATE INDEX lineage_events_undelivered ON ops.lineage_events (id) WHERE delivered_at IS NULL AND rejected_at IS NULL;
CREATE INDEX lineage_events_run ON ops.lineage_events (run_id, id);
CREATE INDEX lineage_events_job ON ops.lineage_events (job, id DESC);
