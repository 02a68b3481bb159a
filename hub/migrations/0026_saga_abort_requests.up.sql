-- Aborts that reach a saga while one of its steps holds the saga's row: the request is written
-- here (it waits for no lock), and whoever runs the saga next sees it when it locks the row to
-- open a step, and aborts the saga in place of the step. So a process may carry a saga from one
-- step into the next inside one round trip (the next step's opening sent with the last one's
-- commit) and an abort still gets in between two steps.
CREATE TABLE saga.abort_requests (
  -- the saga's id (the audit trail files the request under it)
  id uuid PRIMARY KEY REFERENCES saga.instances ON DELETE CASCADE,
  requested_by text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 255),
  requested_at timestamptz NOT NULL DEFAULT now()
);

-- who asked for an abort is in the audit trail, as the saga's state change is
CREATE TRIGGER abort_requests_audit AFTER INSERT OR DELETE ON saga.abort_requests
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- A saga's row is updated at every step (position, outputs, lease), none of them indexed: room on
-- its page lets those updates be HOT (no new index entries, dead versions pruned in place).
ALTER TABLE saga.instances SET (fillfactor = 70);
