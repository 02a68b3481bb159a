-- The TransactionCoordinator's state (hub/src/sagas/): saga instances with their step history,
-- the hub processes that run them, and a transactional outbox for events between domains.
--
-- Claims: a process takes runnable sagas with FOR UPDATE SKIP LOCKED and a lease; each claim
-- raises the saga's fence, and every write of a step names the fence it was claimed with, so a
-- process that was paused past its lease (and lost the saga to another) can write nothing.
-- Death: each process holds a session advisory lock (saga lock space, its key) for its whole
-- life; a saga whose owner's lock is gone is claimable at once, not only after its lease.

CREATE TABLE saga.processes (
  id uuid PRIMARY KEY,
  -- the session advisory lock's key (pg_locks: classid = 21338 ("SZ"), objid = lock_key)
  lock_key integer NOT NULL UNIQUE,
  hostname text NOT NULL CHECK (length(hostname) <= 255),
  pid integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE saga.instances (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  type text NOT NULL CHECK (type ~ '^[a-z][a-z0-9-]{0,63}$'),
  -- the definition's version it started on (a deploy keeps old versions until their sagas end)
  version integer NOT NULL CHECK (version >= 1),
  -- a start is idempotent by (type, key)
  idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
  input jsonb NOT NULL,
  state text NOT NULL DEFAULT 'running'
    CHECK (state IN ('running', 'compensating', 'waiting', 'completed', 'compensated', 'failed')),
  -- running: the next step to do (0-based); compensating: the step to compensate next
  position integer NOT NULL DEFAULT 0 CHECK (position >= -1),
  -- each completed step's output by step name
  outputs jsonb NOT NULL DEFAULT '{}',
  -- why it compensates or failed
  error jsonb,
  attempt integer NOT NULL DEFAULT 0,
  run_at timestamptz NOT NULL DEFAULT now(),
  deadline_at timestamptz,
  owner_id uuid REFERENCES saga.processes ON DELETE SET NULL,
  lease_until timestamptz,
  fence bigint NOT NULL DEFAULT 0,
  started_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  CONSTRAINT instances_key UNIQUE (type, idempotency_key)
);
-- what a claim looks for: active sagas due to run
CREATE INDEX instances_runnable ON saga.instances (run_at) WHERE state IN ('running', 'compensating');
CREATE INDEX instances_owner ON saga.instances (owner_id) WHERE owner_id IS NOT NULL;
CREATE INDEX instances_state_type ON saga.instances (state, type, created_at);

-- Every attempt of every step and compensation, with its timing and outcome.
CREATE TABLE saga.step_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  saga_id uuid NOT NULL REFERENCES saga.instances ON DELETE CASCADE,
  position integer NOT NULL,
  step text NOT NULL,
  phase text NOT NULL CHECK (phase IN ('action', 'compensation')),
  attempt integer NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('succeeded', 'failed', 'retrying')),
  error jsonb,
  fence bigint NOT NULL,
  process_id uuid,
  started_at timestamptz NOT NULL,
  finished_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX step_runs_saga ON saga.step_runs (saga_id, id);
-- a step or compensation succeeds at most once: a re-run after a crash cannot record a second effect
CREATE UNIQUE INDEX step_runs_once ON saga.step_runs (saga_id, position, phase) WHERE outcome = 'succeeded';

-- Events between domains, written in the transaction of the change that causes them.
CREATE TABLE saga.outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  topic text NOT NULL CHECK (length(topic) BETWEEN 1 AND 100),
  key text,
  payload jsonb NOT NULL,
  saga_id uuid REFERENCES saga.instances ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);
CREATE INDEX outbox_unpublished ON saga.outbox (id) WHERE published_at IS NULL;

-- State changes of sagas are in the audit trail (who started, retried or aborted what).
CREATE TRIGGER instances_audit AFTER INSERT OR DELETE OR UPDATE OF state ON saga.instances
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();
