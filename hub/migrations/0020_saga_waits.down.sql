UPDATE erp.tickets SET source = 'manual', cause = NULL WHERE source = 'order';
ALTER TABLE erp.tickets DROP CONSTRAINT tickets_source_check,
  ADD CONSTRAINT tickets_source_check CHECK (source IN ('manual', 'device_fault', 'silence'));
DROP TRIGGER instances_audit ON saga.instances;
CREATE TRIGGER instances_audit AFTER INSERT OR DELETE OR UPDATE OF state ON saga.instances
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();
DROP FUNCTION saga.log_instance_change();
DROP TRIGGER approval_requests_wake_sagas ON ops.approval_requests;
DROP FUNCTION saga.wake_on_approval();
DELETE FROM saga.step_runs WHERE outcome = 'waiting';
ALTER TABLE saga.step_runs DROP CONSTRAINT step_runs_outcome_check,
  ADD CONSTRAINT step_runs_outcome_check CHECK (outcome IN ('succeeded', 'failed', 'retrying'));
UPDATE saga.instances SET state = 'running' WHERE state = 'waiting';
DROP INDEX saga.instances_runnable;
CREATE INDEX instances_runnable ON saga.instances (run_at) WHERE state IN ('running', 'compensating');
DROP INDEX saga.instances_waiting_on;
DROP INDEX saga.outbox_unpublished;
CREATE INDEX outbox_unpublished ON saga.outbox (id) WHERE published_at IS NULL;
ALTER TABLE saga.outbox DROP COLUMN available_at, DROP COLUMN error, DROP COLUMN attempts;
ALTER TABLE saga.instances DROP COLUMN started_by_principal, DROP COLUMN waiting_on;
