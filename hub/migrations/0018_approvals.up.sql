-- Four-eyes approvals: operations that a second person must approve before they take effect,
-- kept as data (ops.approval_policies: what triggers it, who may approve, how long a request
-- waits), and the requests themselves with their decision and what carrying them out returned.
--
-- In `ops`, not `erp`: approvals are a platform mechanism across domains (billing, inventory,
-- and edge commands, which are no ERP entity), like the dead letter queue and idempotency keys;
-- `erp` holds the business records the resource kit serves. Every change is still audited by
-- the audit trigger, as in `erp`.
--
-- The database holds the rules, whoever writes: a request starts pending; nobody decides their
-- own (requested_by and decided_by are people: a user, also when acting by API token); it is
-- decided once (pending → approved | rejected | expired, approved → executed, nothing else);
-- one past its expiry cannot be approved or rejected (checked against now()); and there is at
-- most one pending request per operation and subject.

CREATE TABLE ops.approval_policies (
  operation text PRIMARY KEY CHECK (operation ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
  description text NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
  -- 'always', or 'amount_above': when the operation's amount (facts.amountCents) exceeds threshold_cents
  trigger_kind text NOT NULL CHECK (trigger_kind IN ('always', 'amount_above')),
  threshold_cents bigint CHECK (threshold_cents >= 0),
  currency text CHECK (currency ~ '^[A-Z]{3}$'),
  -- platform/principal.ts ROLES: whoever has one of these may decide (never the requester)
  approver_roles text[] NOT NULL CHECK (
    cardinality(approver_roles) > 0
    AND approver_roles <@ ARRAY['admin', 'office', 'project_manager', 'technician', 'accountant', 'analyst', 'auditor']
  ),
  -- how long a request waits for its decision before it expires
  ttl interval NOT NULL DEFAULT interval '72 hours' CHECK (ttl > interval '0'),
  CONSTRAINT approval_policies_threshold CHECK (
    (trigger_kind = 'amount_above') = (threshold_cents IS NOT NULL AND currency IS NOT NULL))
);
CREATE TRIGGER approval_policies_audit AFTER INSERT OR UPDATE OR DELETE ON ops.approval_policies
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

INSERT INTO ops.approval_policies (operation, description, trigger_kind, threshold_cents, currency, approver_roles) VALUES
  ('invoice.finalise', 'Finalising an invoice whose gross is above the threshold', 'amount_above', 1000000, 'EUR',
   ARRAY['accountant', 'admin']),
  ('invoice.cancel', 'Cancelling an invoice by a credit note', 'always', NULL, NULL, ARRAY['accountant', 'admin']),
  ('stock.write_off', 'Writing stock off', 'always', NULL, NULL, ARRAY['project_manager', 'admin']),
  ('edge.power_limit', 'Setting an edge''s power limit', 'always', NULL, NULL, ARRAY['admin']);

CREATE TABLE ops.approval_requests (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  operation text NOT NULL REFERENCES ops.approval_policies,
  -- what it acts on: an entity (e.g. invoices) and its id
  subject_type text NOT NULL CHECK (length(subject_type) BETWEEN 1 AND 100),
  subject_id text NOT NULL CHECK (length(subject_id) BETWEEN 1 AND 300),
  -- what to carry out, as the executor of the operation reads it
  payload jsonb NOT NULL DEFAULT '{}',
  -- what the approver decides on (e.g. the invoice's gross), and what triggered the policy
  facts jsonb NOT NULL DEFAULT '{}',
  requested_by text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 200),
  requested_by_name text CHECK (length(requested_by_name) <= 254),
  requested_at timestamptz NOT NULL DEFAULT now(),
  -- the policy's ttl after requested_at unless given
  expires_at timestamptz NOT NULL,
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'executed')),
  decided_by text CHECK (length(decided_by) BETWEEN 1 AND 200),
  decided_by_name text CHECK (length(decided_by_name) <= 254),
  -- when approved or rejected; for an expired request, when it was marked so
  decided_at timestamptz,
  comment text CHECK (length(comment) <= 2000),
  executed_at timestamptz,
  -- what carrying it out returned (e.g. the credit note made)
  result jsonb,
  CONSTRAINT approval_requests_not_self CHECK (decided_by <> requested_by),
  CONSTRAINT approval_requests_decision CHECK (CASE status
    WHEN 'pending' THEN decided_by IS NULL AND decided_at IS NULL
    WHEN 'expired' THEN decided_by IS NULL AND decided_at IS NOT NULL
    ELSE decided_by IS NOT NULL AND decided_at IS NOT NULL END),
  CONSTRAINT approval_requests_execution CHECK (
    (status = 'executed') = (executed_at IS NOT NULL) AND (result IS NULL OR status = 'executed'))
);
-- one pending request per operation and subject
CREATE UNIQUE INDEX approval_requests_one_pending ON ops.approval_requests (operation, subject_type, subject_id)
  WHERE status = 'pending';
-- the list, newest first, and what expires next
CREATE INDEX approval_requests_requested ON ops.approval_requests (requested_at, id);
CREATE INDEX approval_requests_pending_expiry ON ops.approval_requests (expires_at) WHERE status = 'pending';
CREATE INDEX approval_requests_subject ON ops.approval_requests (subject_type, subject_id);

-- A request starts pending and undecided; its expiry follows from the policy unless given.
CREATE FUNCTION ops.check_approval_request() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status <> 'pending' OR NEW.decided_by IS NOT NULL OR NEW.decided_at IS NOT NULL
     OR NEW.executed_at IS NOT NULL OR NEW.result IS NOT NULL THEN
    RAISE EXCEPTION 'an approval request starts pending and undecided'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'approval_requests_decided';
  END IF;
  IF NEW.expires_at IS NULL THEN
    NEW.expires_at := NEW.requested_at + (SELECT ttl FROM ops.approval_policies WHERE operation = NEW.operation);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER approval_requests_check BEFORE INSERT ON ops.approval_requests
  FOR EACH ROW EXECUTE FUNCTION ops.check_approval_request();

-- What is requested never changes; a request is decided once, and not after its expiry.
CREATE FUNCTION ops.check_approval_decision() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF (NEW.id, NEW.operation, NEW.subject_type, NEW.subject_id, NEW.payload, NEW.facts, NEW.requested_by,
      NEW.requested_by_name, NEW.requested_at)
     IS DISTINCT FROM (OLD.id, OLD.operation, OLD.subject_type, OLD.subject_id, OLD.payload, OLD.facts,
      OLD.requested_by, OLD.requested_by_name, OLD.requested_at) THEN
    RAISE EXCEPTION 'what an approval request asks for, and who asked, never changes'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'approval_requests_immutable';
  END IF;
  IF OLD.status = 'pending' AND NEW.status = 'pending' THEN
    RETURN NEW; -- undecided: only its expiry may move
  ELSIF OLD.status = 'pending' AND NEW.status IN ('approved', 'rejected') THEN
    IF OLD.expires_at <= now() OR NEW.expires_at IS DISTINCT FROM OLD.expires_at THEN
      RAISE EXCEPTION 'approval request % expired at %: it can no longer be decided', OLD.id, OLD.expires_at
        USING ERRCODE = 'check_violation', CONSTRAINT = 'approval_requests_expired';
    END IF;
  ELSIF OLD.status = 'pending' AND NEW.status = 'expired' THEN
    IF OLD.expires_at > now() THEN
      RAISE EXCEPTION 'approval request % expires only at %', OLD.id, OLD.expires_at
        USING ERRCODE = 'check_violation', CONSTRAINT = 'approval_requests_expired';
    END IF;
  ELSIF OLD.status = 'approved' AND NEW.status = 'executed' THEN
    IF (NEW.decided_by, NEW.decided_by_name, NEW.decided_at, NEW.comment, NEW.expires_at)
       IS DISTINCT FROM (OLD.decided_by, OLD.decided_by_name, OLD.decided_at, OLD.comment, OLD.expires_at) THEN
      RAISE EXCEPTION 'carrying out approval request % does not change its decision', OLD.id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'approval_requests_decided';
    END IF;
  ELSE
    RAISE EXCEPTION 'approval request % is %: it cannot become %', OLD.id, OLD.status, NEW.status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'approval_requests_decided';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER approval_requests_decide BEFORE UPDATE ON ops.approval_requests
  FOR EACH ROW EXECUTE FUNCTION ops.check_approval_decision();
CREATE TRIGGER approval_requests_audit AFTER INSERT OR UPDATE OR DELETE ON ops.approval_requests
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- The application reads the policies (changed only by migrations) and requests and decides, but
-- never deletes a request: its decision stays on record.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ops.approval_policies FROM steinmetz_app;
REVOKE DELETE, TRUNCATE ON ops.approval_requests FROM steinmetz_app;
