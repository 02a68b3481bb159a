-- Service tickets (opened by the office or by the hub itself when a device faults or an edge or
-- device falls silent, at most one open ticket per cause) and time bookings on projects or
-- tickets in monthly periods; a closed period's bookings are immutable for everyone, a
-- correction is a counter-booking in an open period.

-- Tickets ----------------------------------------------------------------------------------------
CREATE SEQUENCE erp.ticket_number_seq;
CREATE TABLE erp.tickets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  number text NOT NULL UNIQUE DEFAULT 'T-' || erp.number_text(nextval('erp.ticket_number_seq')),
  site_id uuid REFERENCES erp.sites,
  device_id uuid REFERENCES erp.devices ON DELETE SET NULL,
  title text COLLATE "de-x-icu" NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  description text CHECK (length(description) <= 8000),
  priority text NOT NULL DEFAULT 'normal' CHECK (priority IN ('low', 'normal', 'high', 'critical')),
  sla_due_at timestamptz,
  assignee_id uuid REFERENCES auth.users,
  status text NOT NULL DEFAULT 'new'
    CHECK (status IN ('new', 'assigned', 'in_progress', 'waiting', 'resolved', 'closed', 'cancelled')),
  source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'device_fault', 'silence')),
  -- what opened it: 'fault:<edge>/<device>:<code>', 'silence:edge:<edge>', 'silence:device:<edge>/<device>'
  cause text CHECK (length(cause) <= 300),
  occurrences integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
  last_occurred_at timestamptz,
  recovered_at timestamptz,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT tickets_cause_source CHECK ((source = 'manual') = (cause IS NULL))
);
ALTER SEQUENCE erp.ticket_number_seq OWNED BY erp.tickets.number;
-- at most one open ticket per cause (the arbiter of the monitor's INSERT ... ON CONFLICT)
CREATE UNIQUE INDEX tickets_one_open_per_cause ON erp.tickets (cause) WHERE status NOT IN ('closed', 'cancelled');
CREATE INDEX tickets_site ON erp.tickets (site_id);
CREATE INDEX tickets_device ON erp.tickets (device_id);
CREATE INDEX tickets_assignee ON erp.tickets (assignee_id);
CREATE INDEX tickets_status_id ON erp.tickets (status, id);
CREATE INDEX tickets_priority_id ON erp.tickets (priority, id);
CREATE INDEX tickets_number_id ON erp.tickets (number, id);
CREATE INDEX tickets_title_id ON erp.tickets (title, id);
CREATE INDEX tickets_created_at_id ON erp.tickets (created_at, id);
CREATE INDEX tickets_updated_at_id ON erp.tickets (updated_at, id);
CREATE INDEX tickets_search_title ON erp.tickets USING gin (title gin_trgm_ops);
CREATE INDEX tickets_search_number ON erp.tickets USING gin (number gin_trgm_ops);

-- The SLA: due after 4 h (critical), 1 day (high), 3 days (normal) or 7 days (low) unless given.
CREATE FUNCTION erp.ticket_sla() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.sla_due_at IS NULL OR (TG_OP = 'UPDATE' AND NEW.priority IS DISTINCT FROM OLD.priority
      AND NEW.sla_due_at IS NOT DISTINCT FROM OLD.sla_due_at) THEN
    NEW.sla_due_at := NEW.created_at + CASE NEW.priority
      WHEN 'critical' THEN interval '4 hours' WHEN 'high' THEN interval '1 day'
      WHEN 'normal' THEN interval '3 days' ELSE interval '7 days' END;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER tickets_sla BEFORE INSERT OR UPDATE ON erp.tickets FOR EACH ROW EXECUTE FUNCTION erp.ticket_sla();
CREATE TRIGGER tickets_audit AFTER INSERT OR UPDATE OR DELETE ON erp.tickets
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- Periods and time bookings ----------------------------------------------------------------------
-- A closed month, with what its bookings summed to when it was closed. Never reopened.
CREATE TABLE erp.periods (
  month date PRIMARY KEY CHECK (extract(day FROM month) = 1),
  closed_at timestamptz NOT NULL DEFAULT now(),
  closed_by text NOT NULL,
  bookings integer NOT NULL,
  hours numeric(10, 2) NOT NULL
);
CREATE TRIGGER periods_audit AFTER INSERT ON erp.periods FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE TRIGGER periods_append_only BEFORE UPDATE OR DELETE ON erp.periods
  FOR EACH ROW EXECUTE FUNCTION erp.refuse_ledger_change();
CREATE TRIGGER periods_no_truncate BEFORE TRUNCATE ON erp.periods
  FOR EACH STATEMENT EXECUTE FUNCTION erp.refuse_ledger_change();

CREATE TABLE erp.time_bookings (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users,
  project_id uuid REFERENCES erp.projects,
  ticket_id uuid REFERENCES erp.tickets,
  work_date date NOT NULL,
  hours numeric(5, 2) NOT NULL CHECK (hours <> 0 AND hours BETWEEN -24 AND 24),
  description text CHECK (length(description) <= 2000),
  corrects_id uuid REFERENCES erp.time_bookings,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT time_bookings_one_target CHECK (num_nonnulls(project_id, ticket_id) = 1),
  CONSTRAINT time_bookings_negative_only_as_correction CHECK (hours > 0 OR corrects_id IS NOT NULL)
);
CREATE INDEX time_bookings_user_date ON erp.time_bookings (user_id, work_date);
CREATE INDEX time_bookings_project ON erp.time_bookings (project_id) WHERE project_id IS NOT NULL;
CREATE INDEX time_bookings_ticket ON erp.time_bookings (ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX time_bookings_work_date_id ON erp.time_bookings (work_date, id);
CREATE INDEX time_bookings_created_at_id ON erp.time_bookings (created_at, id);
CREATE INDEX time_bookings_updated_at_id ON erp.time_bookings (updated_at, id);
CREATE TRIGGER time_bookings_audit AFTER INSERT OR UPDATE OR DELETE ON erp.time_bookings
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- The period lock: a booking write holds its month's lock shared, closing a month holds it
-- exclusively, so a month is closed only after every booking in flight has committed (or not),
-- and no booking commits into a month once it is closed.
CREATE FUNCTION erp.period_key(d date) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT (extract(year FROM d) * 12 + extract(month FROM d))::integer $$;

CREATE FUNCTION erp.guard_period() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  d date;
BEGIN
  FOREACH d IN ARRAY ARRAY[CASE WHEN TG_OP <> 'INSERT' THEN OLD.work_date END, CASE WHEN TG_OP <> 'DELETE' THEN NEW.work_date END] LOOP
    CONTINUE WHEN d IS NULL;
    PERFORM pg_advisory_xact_lock_shared(7340010, erp.period_key(d));
    IF EXISTS (SELECT FROM erp.periods WHERE month = date_trunc('month', d)::date) THEN
      RAISE EXCEPTION 'the period % is closed', to_char(d, 'YYYY-MM')
        USING ERRCODE = 'check_violation', CONSTRAINT = 'period_closed';
    END IF;
  END LOOP;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
CREATE TRIGGER time_bookings_period BEFORE INSERT OR UPDATE OR DELETE ON erp.time_bookings
  FOR EACH ROW EXECUTE FUNCTION erp.guard_period();

-- Closes a month (as `actor`): waits for bookings in flight, records what they sum to.
CREATE FUNCTION erp.close_period(p_month date, p_actor text) RETURNS erp.periods
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_month date := date_trunc('month', p_month)::date;
  v_row erp.periods;
BEGIN
  PERFORM pg_advisory_xact_lock(7340010, erp.period_key(v_month));
  INSERT INTO erp.periods (month, closed_by, bookings, hours)
  SELECT v_month, p_actor, count(*), coalesce(sum(hours), 0) FROM erp.time_bookings
  WHERE work_date >= v_month AND work_date < v_month + interval '1 month'
  RETURNING * INTO v_row;
  RETURN v_row;
END
$$;

-- Periods are written only by close_period.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON erp.periods FROM steinmetz_app;
