-- Commands from the hub to edges (hub/src/commands/), delivered over the edges' sync sessions
-- (EdgeSyncService.Commands). A command lives here until it ends:
--   pending_approval → queued          (approved by a second person: ops.approval_requests)
--   pending_approval → rejected | expired (the approval was rejected or expired)
--   queued → delivered                 (the edge stored it: RECEIVED)
--   queued | delivered → succeeded | failed | expired | rejected (the edge's outcome)
--   queued | delivered → expired       (never delivered: its not_after plus a week passed)
-- The database holds these rules whoever writes, keeps every state with its time and detail in
-- `history`, and the audit trail records each change with who made it.
CREATE TABLE ops.edge_commands (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  edge_id text NOT NULL CHECK (edge_id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
  type text NOT NULL CHECK (type IN ('power_limit', 'power_limit_release', 'diagnostics', 'apply_configuration')),
  -- what the edge is asked: {devices, limitPct, revertTimeoutS} for a power limit, {yaml, baseVersion}
  -- for a configuration
  payload jsonb NOT NULL DEFAULT '{}',
  state text NOT NULL
    CHECK (state IN ('pending_approval', 'queued', 'delivered', 'succeeded', 'failed', 'expired', 'rejected')),
  -- the edge does not execute it after this time
  not_after timestamptz NOT NULL,
  approval_id uuid REFERENCES ops.approval_requests,
  -- who asked: a person (user id) or the part of the hub that did
  requested_by text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 200),
  requested_by_name text CHECK (length(requested_by_name) <= 254),
  -- the last state's detail (the edge's words, the approval's decision)
  detail text CHECK (length(detail) <= 4000),
  -- the edge's outcome (per device what was written and read back; the diagnostics)
  result jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  -- every state it was in: [{state, at, detail}]
  history jsonb NOT NULL DEFAULT '[]',
  CONSTRAINT edge_commands_approval CHECK (state <> 'pending_approval' OR approval_id IS NOT NULL),
  CONSTRAINT edge_commands_ended CHECK (
    (state IN ('succeeded', 'failed', 'expired', 'rejected')) = (ended_at IS NOT NULL))
);
CREATE INDEX edge_commands_edge ON ops.edge_commands (edge_id, created_at DESC);
-- what the hub still has to deliver (or hear the outcome of)
CREATE INDEX edge_commands_open ON ops.edge_commands (edge_id, created_at) WHERE state IN ('queued', 'delivered');
CREATE INDEX edge_commands_approval ON ops.edge_commands (approval_id) WHERE approval_id IS NOT NULL;

CREATE FUNCTION ops.edge_command_transition() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  allowed boolean;
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.state NOT IN ('pending_approval', 'queued') THEN
      RAISE EXCEPTION 'a command starts pending_approval or queued, not %', NEW.state USING ERRCODE = 'check_violation';
    END IF;
    NEW.history := jsonb_build_array(jsonb_build_object('state', NEW.state, 'at', now(), 'detail', NEW.detail));
    RETURN NEW;
  END IF;
  IF NEW.id <> OLD.id OR NEW.edge_id <> OLD.edge_id OR NEW.type <> OLD.type OR NEW.payload <> OLD.payload
     OR NEW.not_after <> OLD.not_after OR NEW.requested_by <> OLD.requested_by OR NEW.created_at <> OLD.created_at
     OR NEW.approval_id IS DISTINCT FROM OLD.approval_id THEN
    RAISE EXCEPTION 'command % is immutable but for its state', OLD.id USING ERRCODE = 'check_violation';
  END IF;
  IF NEW.state = OLD.state THEN
    IF NEW.detail IS DISTINCT FROM OLD.detail OR NEW.result IS DISTINCT FROM OLD.result THEN
      RAISE EXCEPTION 'command %: detail and result change with the state only', OLD.id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
  END IF;
  allowed := CASE OLD.state
    WHEN 'pending_approval' THEN NEW.state IN ('queued', 'rejected', 'expired')
    WHEN 'queued' THEN NEW.state IN ('delivered', 'succeeded', 'failed', 'expired', 'rejected')
    WHEN 'delivered' THEN NEW.state IN ('succeeded', 'failed', 'expired', 'rejected')
    ELSE false END;
  IF NOT allowed THEN
    RAISE EXCEPTION 'command %: % → % is not allowed', OLD.id, OLD.state, NEW.state USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  NEW.ended_at := CASE WHEN NEW.state IN ('succeeded', 'failed', 'expired', 'rejected') THEN now() END;
  NEW.history := OLD.history || jsonb_build_object('state', NEW.state, 'at', now(), 'detail', NEW.detail);
  RETURN NEW;
END
$$;
CREATE TRIGGER edge_commands_transition BEFORE INSERT OR UPDATE ON ops.edge_commands
  FOR EACH ROW EXECUTE FUNCTION ops.edge_command_transition();
-- The audit trail records commands without a pushed configuration's YAML (it may hold an MQTT
-- broker's password, and the trail keeps forever): its SHA-256 and size stand for it.
CREATE FUNCTION ops.log_edge_command_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_before jsonb;
  v_after jsonb;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN v_before := ops.edge_command_redacted(to_jsonb(OLD)); END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN v_after := ops.edge_command_redacted(to_jsonb(NEW)); END IF;
  PERFORM audit.append(TG_TABLE_SCHEMA, TG_TABLE_NAME, coalesce(v_after, v_before) ->> 'id', TG_OP, v_before, v_after);
  RETURN NULL;
END
$$;
CREATE FUNCTION ops.edge_command_redacted(c jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN c #> '{payload,yaml}' IS NULL THEN c
    ELSE jsonb_set(c, '{payload}', ((c -> 'payload') - 'yaml') || jsonb_build_object(
      'yamlSha256', encode(sha256(convert_to(c #>> '{payload,yaml}', 'UTF8')), 'hex'),
      'yamlBytes', octet_length(c #>> '{payload,yaml}'))) END
$$;
CREATE TRIGGER edge_commands_audit AFTER INSERT OR DELETE OR UPDATE OF state ON ops.edge_commands
  FOR EACH ROW EXECUTE FUNCTION ops.log_edge_command_change();

-- What each edge runs: the configuration version of its last hello, and the YAML when the hub
-- pushed that version (an apply_configuration command that succeeded).
CREATE TABLE ops.edge_configurations (
  edge_id text PRIMARY KEY,
  version bigint NOT NULL CHECK (version >= 0),
  yaml text,
  -- the command that brought this version, when the hub pushed it
  command_id uuid REFERENCES ops.edge_commands,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- An approval request of a command that is rejected or expires ends the command with it (an
-- approval is carried out by the command domain's executor, which queues the command).
CREATE FUNCTION ops.edge_command_approval_closed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE ops.edge_commands SET state = NEW.status,
    detail = CASE NEW.status
      WHEN 'rejected' THEN 'approval rejected by ' || coalesce(NEW.decided_by_name, NEW.decided_by)
        || coalesce(': ' || NEW.comment, '')
      ELSE 'approval expired at ' || NEW.expires_at END
  WHERE approval_id = NEW.id AND state = 'pending_approval';
  RETURN NULL;
END
$$;
CREATE TRIGGER approval_requests_edge_commands AFTER UPDATE OF status ON ops.approval_requests
  FOR EACH ROW WHEN (NEW.status IN ('rejected', 'expired') AND OLD.status = 'pending' AND NEW.subject_type = 'edge_commands')
  EXECUTE FUNCTION ops.edge_command_approval_closed();
