-- Retention of business records (§ 147 AO, § 14b UStG, § 257 HGB as changed by BEG IV), legal
-- holds, an archive, and GDPR erasure.
--
-- * Retention classes are data (ops.retention_classes), and so is the mapping of every retained
--   table to its class and the date its period runs from (ops.retention_tables). A period ends at
--   the end of the calendar year of that date plus the class's years (§ 147 Abs. 4 AO): an invoice
--   issued in 2026 (vouchers, 8 years) is kept through 2034-12-31 and may go on 2035-01-01.
--   Calendar years are those of Europe/Berlin. A period does not end while the records matter
--   for an open assessment (§ 147 Abs. 3 S. 5 AO): that is what a legal hold says.
-- * A legal hold (ops.legal_holds) names one record of a retained table, or a customer (then
--   everything of that customer). A held record is never archived, deleted or pseudonymised; the
--   database refuses deleting it to everybody until the hold is released (released, never removed).
-- * ops.run_retention(as_of) — SECURITY DEFINER, the migration owner's — copies every record
--   whose period has ended as of its clock and that no hold protects into the schema `archive`
--   (read-only for the application) and deletes it in the same statement, with the parts that
--   share its lifecycle (an invoice's lines, document as finalised and invoiced-hours links; a
--   quote's lines). A record that something kept still references stays (and says so). Every run
--   is logged with its report in ops.retention_runs.
-- * The freeze triggers of finalised invoices, their lines, documents and payments, sent quotes and
--   closed periods keep refusing every change, to every role including the owner, with one
--   exception: a DELETE by the table's owner inside a running retention run of the same
--   transaction (ops.retention_runs row, written only by ops.run_retention), of a row whose period
--   ended as of that run's clock and that no hold protects (ops.retention_authorises).
-- * The audit trail (books, 10 years) is hash-chained: removing its oldest records would break
--   `audit verify`, so expired audit records are only copied to the archive, never deleted.
-- * ops.request_erasure pseudonymises a customer (GDPR Art. 17) as far as no retention period or
--   hold forbids it, records the restriction of processing (Art. 18) with the date it lasts until,
--   and is completed by a later retention run once that date has passed.

-- Classes and mapping -----------------------------------------------------------------------------
CREATE TABLE ops.retention_classes (
  class text PRIMARY KEY CHECK (class ~ '^[a-z_]{1,30}$'),
  years smallint NOT NULL CHECK (years BETWEEN 1 AND 30),
  legal_basis text NOT NULL,
  description text NOT NULL
);
INSERT INTO ops.retention_classes (class, years, legal_basis, description) VALUES
  ('books', 10, '§ 147 Abs. 1 Nr. 1, Abs. 3 AO; § 257 Abs. 1 Nr. 1, Abs. 4 HGB',
   'books and records, inventories, annual accounts, management reports, the working instructions and organisation documents needed to understand them, and the audit trail that documents the books'),
  ('vouchers', 8, '§ 147 Abs. 1 Nr. 4, Abs. 3 AO; § 14b Abs. 1 UStG; § 257 Abs. 1 Nr. 4, Abs. 4 HGB (BEG IV, from 2025)',
   'Buchungsbelege: invoices and credit notes with their lines and documents as finalised, payments, and the time bookings hours are invoiced from'),
  ('letters', 6, '§ 147 Abs. 1 Nr. 2, 3, 5, Abs. 3 AO; § 257 Abs. 1 Nr. 2, 3, Abs. 4 HGB',
   'business letters received and sent and other documents that matter for taxation, e.g. quotes and service tickets');

-- Each retained table: its class, the column its period runs from (a part''s is its root''s), the
-- root a part shares its lifecycle with (removed with it, never alone, held with it), what the run
-- does with it, in which order roots are processed (dependents before what they reference) and its
-- archive table. ops.retention_records below implements date_column for each table.
CREATE TABLE ops.retention_tables (
  table_name text PRIMARY KEY,
  class text NOT NULL REFERENCES ops.retention_classes,
  date_column text NOT NULL,
  part_of text,
  key_column text NOT NULL DEFAULT 'id',
  action text NOT NULL CHECK (action IN ('archive_delete', 'archive_only')),
  run_order smallint NOT NULL,
  archive_table text NOT NULL UNIQUE,
  description text NOT NULL,
  CONSTRAINT retention_tables_class UNIQUE (table_name, class),
  -- a part has its root's class
  CONSTRAINT retention_tables_part_of FOREIGN KEY (part_of, class) REFERENCES ops.retention_tables (table_name, class),
  CONSTRAINT retention_tables_part_deleted CHECK (part_of IS NULL OR action = 'archive_delete')
);
INSERT INTO ops.retention_tables (table_name, class, date_column, part_of, key_column, action, run_order, archive_table, description) VALUES
  ('erp.quotes', 'letters', 'erp.quotes.created_at', NULL, 'id', 'archive_delete', 1, 'archive.quotes',
   'a quote is a business letter (Angebot), kept as sent'),
  ('erp.quote_lines', 'letters', 'erp.quotes.created_at', 'erp.quotes', 'id', 'archive_delete', 1, 'archive.quote_lines',
   'what the quote offers'),
  ('erp.payments', 'vouchers', 'erp.payments.paid_on', NULL, 'id', 'archive_delete', 2, 'archive.payments',
   'a payment is a Buchungsbeleg of the bank booking; its period runs from the day it was paid'),
  ('erp.invoices', 'vouchers', 'erp.invoices.issue_date', NULL, 'id', 'archive_delete', 3, 'archive.invoices',
   'finalised invoices and credit notes (§ 14b UStG); drafts are no vouchers and are not retained'),
  ('erp.invoice_lines', 'vouchers', 'erp.invoices.issue_date', 'erp.invoices', 'id', 'archive_delete', 3, 'archive.invoice_lines',
   'the lines of a finalised invoice'),
  ('erp.invoice_documents', 'vouchers', 'erp.invoices.issue_date', 'erp.invoices', 'invoice_id', 'archive_delete', 3,
   'archive.invoice_documents', 'the document as finalised, from which every PDF and XRechnung is rendered'),
  ('erp.invoiced_time_bookings', 'vouchers', 'erp.invoices.issue_date', 'erp.invoices', 'time_booking_id', 'archive_delete', 3,
   'archive.invoiced_time_bookings', 'which time bookings an hours line invoiced'),
  ('erp.time_bookings', 'vouchers', 'erp.time_bookings.work_date', NULL, 'id', 'archive_delete', 4, 'archive.time_bookings',
   'hours are invoiced from time bookings and valued in work in progress: they are the Buchungsbeleg behind an hours line (8 years, not the 6 of other documents)'),
  ('erp.tickets', 'letters', 'erp.tickets.updated_at', NULL, 'id', 'archive_delete', 5, 'archive.tickets',
   'closed or cancelled service tickets (customer correspondence); the period runs from the last entry'),
  ('audit.records', 'books', 'audit.records.at', NULL, 'id', 'archive_only', 6, 'archive.audit_records',
   'the audit trail documents the books; it is hash-chained, so expired records are copied to the archive and stay');

-- Every record under retention, by table: its root (itself, or the record it is a part of), the
-- customer it belongs to, the date its period runs from, and whether it depends on another record
-- of its table (a reversal, a credit note, a correcting booking: processed first).
CREATE VIEW ops.retention_records AS
SELECT 'erp.invoices'::text AS table_name, i.id, 'erp.invoices'::text AS root_table, i.id AS root_id, i.customer_id,
  i.issue_date AS record_date, i.corrects_id IS NOT NULL AS dependent
FROM erp.invoices i WHERE i.status = 'finalised'
UNION ALL
SELECT 'erp.invoice_lines', l.id, 'erp.invoices', i.id, i.customer_id, i.issue_date, false
FROM erp.invoice_lines l JOIN erp.invoices i ON i.id = l.invoice_id WHERE i.status = 'finalised'
UNION ALL
SELECT 'erp.invoice_documents', d.invoice_id, 'erp.invoices', i.id, i.customer_id, i.issue_date, false
FROM erp.invoice_documents d JOIN erp.invoices i ON i.id = d.invoice_id
UNION ALL
SELECT 'erp.invoiced_time_bookings', t.time_booking_id, 'erp.invoices', i.id, i.customer_id, i.issue_date, false
FROM erp.invoiced_time_bookings t JOIN erp.invoice_lines l ON l.id = t.invoice_line_id JOIN erp.invoices i ON i.id = l.invoice_id
WHERE i.status = 'finalised'
UNION ALL
SELECT 'erp.payments', p.id, 'erp.payments', p.id, i.customer_id, p.paid_on, p.reverses_id IS NOT NULL
FROM erp.payments p JOIN erp.invoices i ON i.id = p.invoice_id
UNION ALL
SELECT 'erp.time_bookings', b.id, 'erp.time_bookings', b.id, coalesce(pr.customer_id, s.customer_id), b.work_date,
  b.corrects_id IS NOT NULL
FROM erp.time_bookings b LEFT JOIN erp.projects pr ON pr.id = b.project_id
LEFT JOIN erp.tickets tk ON tk.id = b.ticket_id LEFT JOIN erp.sites s ON s.id = tk.site_id
UNION ALL
SELECT 'erp.quotes', q.id, 'erp.quotes', q.id, q.customer_id, (q.created_at AT TIME ZONE 'Europe/Berlin')::date, false
FROM erp.quotes q
UNION ALL
SELECT 'erp.quote_lines', l.id, 'erp.quotes', q.id, q.customer_id, (q.created_at AT TIME ZONE 'Europe/Berlin')::date, false
FROM erp.quote_lines l JOIN erp.quotes q ON q.id = l.quote_id
UNION ALL
SELECT 'erp.tickets', t.id, 'erp.tickets', t.id, s.customer_id, (t.updated_at AT TIME ZONE 'Europe/Berlin')::date, false
FROM erp.tickets t LEFT JOIN erp.sites s ON s.id = t.site_id WHERE t.status IN ('closed', 'cancelled');

-- Legal holds ------------------------------------------------------------------------------------
CREATE TABLE ops.legal_holds (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  table_name text REFERENCES ops.retention_tables,
  record_id uuid,
  customer_id uuid REFERENCES erp.customers,
  reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 1000),
  placed_by text NOT NULL CHECK (length(placed_by) BETWEEN 1 AND 200),
  placed_at timestamptz NOT NULL DEFAULT now(),
  released_at timestamptz,
  released_by text CHECK (length(released_by) BETWEEN 1 AND 200),
  release_reason text CHECK (length(release_reason) <= 1000),
  CONSTRAINT legal_holds_subject CHECK (
    (customer_id IS NULL AND table_name IS NOT NULL AND record_id IS NOT NULL)
    OR (customer_id IS NOT NULL AND table_name IS NULL AND record_id IS NULL)),
  CONSTRAINT legal_holds_released CHECK ((released_at IS NULL) = (released_by IS NULL))
);
CREATE INDEX legal_holds_record ON ops.legal_holds (table_name, record_id) WHERE released_at IS NULL;
CREATE INDEX legal_holds_customer ON ops.legal_holds (customer_id) WHERE released_at IS NULL;
CREATE INDEX legal_holds_placed_at ON ops.legal_holds (placed_at, id);

-- The run log: one row per run, with what it did; the schedule's row is claimed by one hub a day.
CREATE TABLE ops.retention_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  -- the clock the run judged by (the requested one; for a caller other than the owner no later than now())
  as_of timestamptz NOT NULL,
  requested_as_of timestamptz NOT NULL,
  as_of_day date NOT NULL,
  run_by text NOT NULL,
  status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
  -- the transaction the run ran in: the freeze triggers accept its deletions, and no other's
  txid bigint NOT NULL DEFAULT txid_current(),
  report jsonb,
  CONSTRAINT retention_runs_done CHECK ((status = 'done') = (report IS NOT NULL AND finished_at IS NOT NULL))
);
CREATE INDEX retention_runs_started_at ON ops.retention_runs (started_at DESC, id DESC);

CREATE TABLE ops.retention_schedule (
  job text PRIMARY KEY CHECK (job = 'retention'),
  last_day date,
  last_run_id bigint REFERENCES ops.retention_runs,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ops.retention_schedule (job) VALUES ('retention');

-- GDPR erasure requests, one per customer: the latest evaluation and every one that changed something.
CREATE TABLE ops.erasure_requests (
  customer_id uuid PRIMARY KEY REFERENCES erp.customers,
  requested_at timestamptz NOT NULL DEFAULT now(),
  requested_by text NOT NULL CHECK (length(requested_by) BETWEEN 1 AND 200),
  -- erased: pseudonymised as far as anything was personal; restricted: processing restricted (Art. 18)
  status text NOT NULL CHECK (status IN ('erased', 'restricted')),
  -- the last day a retention period protects the customer's data (null while a hold does: until released)
  restricted_until date,
  held boolean NOT NULL,
  evaluated_at timestamptz NOT NULL DEFAULT now(),
  as_of_day date NOT NULL,
  completed_at timestamptz,
  report jsonb NOT NULL,
  history jsonb NOT NULL DEFAULT '[]',
  CONSTRAINT erasure_requests_completed CHECK ((status = 'erased') = (completed_at IS NOT NULL)),
  CONSTRAINT erasure_requests_until CHECK (status = 'restricted' OR (restricted_until IS NULL AND NOT held))
);
CREATE INDEX erasure_requests_restricted ON ops.erasure_requests (restricted_until) WHERE status = 'restricted';

-- The record of these tables is kept: releases only, runs finish once, nothing is removed.
CREATE FUNCTION ops.guard_retention_log() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    IF TG_TABLE_NAME = 'legal_holds' THEN
      IF OLD.released_at IS NULL AND NEW.released_at IS NOT NULL
         AND (NEW.id, NEW.table_name, NEW.record_id, NEW.customer_id, NEW.reason, NEW.placed_by, NEW.placed_at)
             IS NOT DISTINCT FROM (OLD.id, OLD.table_name, OLD.record_id, OLD.customer_id, OLD.reason, OLD.placed_by, OLD.placed_at) THEN
        RETURN NEW;
      END IF;
    ELSIF TG_TABLE_NAME = 'retention_runs' THEN
      IF OLD.status = 'running' AND NEW.status = 'done'
         AND (NEW.id, NEW.as_of, NEW.requested_as_of, NEW.as_of_day, NEW.run_by, NEW.txid, NEW.started_at)
             IS NOT DISTINCT FROM (OLD.id, OLD.as_of, OLD.requested_as_of, OLD.as_of_day, OLD.run_by, OLD.txid, OLD.started_at) THEN
        RETURN NEW;
      END IF;
    END IF;
  END IF;
  RAISE EXCEPTION '%: % refused (a hold is released, a run finishes once; neither is changed or removed)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'check_violation', CONSTRAINT = 'retention_log_immutable';
END
$$;
CREATE TRIGGER legal_holds_guard BEFORE UPDATE OR DELETE ON ops.legal_holds
  FOR EACH ROW EXECUTE FUNCTION ops.guard_retention_log();
CREATE TRIGGER legal_holds_no_truncate BEFORE TRUNCATE ON ops.legal_holds
  FOR EACH STATEMENT EXECUTE FUNCTION ops.guard_retention_log();
CREATE TRIGGER retention_runs_guard BEFORE UPDATE OR DELETE ON ops.retention_runs
  FOR EACH ROW EXECUTE FUNCTION ops.guard_retention_log();
CREATE TRIGGER retention_runs_no_truncate BEFORE TRUNCATE ON ops.retention_runs
  FOR EACH STATEMENT EXECUTE FUNCTION ops.guard_retention_log();
CREATE TRIGGER legal_holds_audit AFTER INSERT OR UPDATE OR DELETE ON ops.legal_holds
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE TRIGGER retention_runs_audit AFTER INSERT OR UPDATE ON ops.retention_runs
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE TRIGGER erasure_requests_audit AFTER INSERT OR UPDATE OR DELETE ON ops.erasure_requests
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- Each record with its class, the first day its period has ended (expires_on) and whether a hold
-- protects it (its root's record hold, or its customer's).
CREATE VIEW ops.retention_state AS
SELECT r.table_name, r.id, r.root_table, r.root_id, r.customer_id, r.record_date, r.dependent, m.class, c.years,
  make_date(extract(year FROM r.record_date)::integer + c.years + 1, 1, 1) AS expires_on,
  EXISTS (SELECT FROM ops.legal_holds h WHERE h.released_at IS NULL
          AND ((h.table_name = r.root_table AND h.record_id = r.root_id) OR h.customer_id = r.customer_id)) AS held
FROM ops.retention_records r
JOIN ops.retention_tables m ON m.table_name = r.table_name
JOIN ops.retention_classes c ON c.class = m.class;

-- The archive -------------------------------------------------------------------------------------
-- What the runs removed, column for column as it was (plus the run and the time), readable by the
-- application and auditors, written by nobody but the owner.
CREATE SCHEMA archive;
COMMENT ON SCHEMA archive IS 'records whose retention period ended, as ops.run_retention removed them';
CREATE TABLE archive.quotes (LIKE erp.quotes);
CREATE TABLE archive.quote_lines (LIKE erp.quote_lines);
CREATE TABLE archive.payments (LIKE erp.payments);
CREATE TABLE archive.invoices (LIKE erp.invoices);
CREATE TABLE archive.invoice_lines (LIKE erp.invoice_lines);
CREATE TABLE archive.invoice_documents (LIKE erp.invoice_documents);
CREATE TABLE archive.invoiced_time_bookings (LIKE erp.invoiced_time_bookings);
CREATE TABLE archive.time_bookings (LIKE erp.time_bookings);
CREATE TABLE archive.tickets (LIKE erp.tickets);
CREATE TABLE archive.audit_records (LIKE audit.records);
DO $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT archive_table, key_column FROM ops.retention_tables LOOP
    EXECUTE format('ALTER TABLE %s ADD COLUMN archived_by_run bigint NOT NULL REFERENCES ops.retention_runs, '
      'ADD COLUMN archived_at timestamptz NOT NULL, ADD PRIMARY KEY (%I)', t.archive_table, t.key_column);
    EXECUTE format('CREATE INDEX ON %s (archived_by_run)', t.archive_table);
  END LOOP;
END
$$;
CREATE INDEX ON archive.invoices (customer_id);

REVOKE ALL ON SCHEMA archive FROM PUBLIC;
GRANT USAGE ON SCHEMA archive TO steinmetz_app, steinmetz_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA archive TO steinmetz_app, steinmetz_auditor;
ALTER DEFAULT PRIVILEGES IN SCHEMA archive GRANT SELECT ON TABLES TO steinmetz_app, steinmetz_auditor;

-- Who may do what: the application reads all of this (auditors read the archive); holds and
-- erasures go through the functions below; runs, the schedule, classes and mapping are the owner's.
REVOKE INSERT, UPDATE, DELETE ON ops.retention_classes, ops.retention_tables, ops.retention_records,
  ops.retention_state, ops.legal_holds, ops.retention_runs, ops.retention_schedule, ops.erasure_requests
  FROM steinmetz_app;

-- The deletion gate ----------------------------------------------------------------------------------
-- Whether a retention run may delete `p_row` of `p_table`: only the table's owner (the run is a
-- SECURITY DEFINER function of the migration role), only inside a run that this very transaction
-- started (its ops.retention_runs row, which only ops.run_retention writes, is still running), only
-- a row of a retained table whose period ended as of the run's clock, and none a hold protects.
CREATE FUNCTION ops.retention_authorises(p_table regclass, p_row jsonb) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_table text := p_table::text;
  v_run text := current_setting('steinmetz.retention_run', true);
  v_key text;
  v_day date;
BEGIN
  IF current_user <> (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = p_table) THEN
    RETURN false;
  END IF;
  IF v_run IS NULL OR v_run !~ '^[0-9]{1,18}$' THEN
    RETURN false;
  END IF;
  SELECT as_of_day INTO v_day FROM ops.retention_runs
  WHERE id = v_run::bigint AND status = 'running' AND txid = txid_current();
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  SELECT key_column INTO v_key FROM ops.retention_tables WHERE table_name = v_table AND action = 'archive_delete';
  IF NOT FOUND OR p_row ->> v_key IS NULL THEN
    RETURN false;
  END IF;
  RETURN EXISTS (SELECT FROM ops.retention_state s
                 WHERE s.table_name = v_table AND s.id = (p_row ->> v_key)::uuid AND s.expires_on <= v_day AND NOT s.held);
END
$$;

-- The freeze triggers, each with that one exception (migrations 0013 to 0016 made them) ----------
CREATE OR REPLACE FUNCTION erp.refuse_ledger_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- a retention run removes payments and invoice documents whose period ended (ops.retention_authorises)
  IF TG_LEVEL = 'ROW' AND TG_OP = 'DELETE' THEN
    IF ops.retention_authorises(TG_RELID, to_jsonb(OLD)) THEN
      RETURN OLD;
    END IF;
  END IF;
  RAISE EXCEPTION '% is append-only: % refused (correct a movement by its reversal)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_append_only';
END
$$;

CREATE OR REPLACE FUNCTION erp.guard_period() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  d date;
BEGIN
  FOREACH d IN ARRAY ARRAY[CASE WHEN TG_OP <> 'INSERT' THEN OLD.work_date END, CASE WHEN TG_OP <> 'DELETE' THEN NEW.work_date END] LOOP
    CONTINUE WHEN d IS NULL;
    PERFORM pg_advisory_xact_lock_shared(7340010, erp.period_key(d));
    IF EXISTS (SELECT FROM erp.periods WHERE month = date_trunc('month', d)::date) THEN
      -- a retention run removes bookings whose period ended; this function runs as the owner, so
      -- the gate is the run of this transaction (ops.retention_authorises)
      IF TG_OP = 'DELETE' THEN
        IF ops.retention_authorises(TG_RELID, to_jsonb(OLD)) THEN
          CONTINUE;
        END IF;
      END IF;
      RAISE EXCEPTION 'the period % is closed', to_char(d, 'YYYY-MM')
        USING ERRCODE = 'check_violation', CONSTRAINT = 'period_closed';
    END IF;
  END LOOP;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE OR REPLACE FUNCTION erp.freeze_invoice() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'draft' THEN
    -- a retention run removes invoices whose period ended (ops.retention_authorises)
    IF TG_OP = 'DELETE' THEN
      IF ops.retention_authorises(TG_RELID, to_jsonb(OLD)) THEN
        RETURN OLD;
      END IF;
    END IF;
    RAISE EXCEPTION 'invoice % is finalised: it cannot be changed or deleted (cancel it by a credit note)', OLD.number
      USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_finalised';
  END IF;
  -- finalising runs as the table's owner (erp.finalise_invoice is SECURITY DEFINER); nobody else sets it
  IF TG_OP = 'UPDATE' AND NEW.status <> 'draft'
     AND current_user <> (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
    RAISE EXCEPTION 'an invoice is finalised only by erp.finalise_invoice'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_finalised';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE OR REPLACE FUNCTION erp.freeze_invoice_lines() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_status text;
BEGIN
  -- the parent row is locked, so a line never slips in while its invoice is finalised
  SELECT status INTO v_status FROM erp.invoices
  WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END FOR SHARE;
  IF v_status IS DISTINCT FROM 'draft' OR (TG_OP = 'UPDATE' AND OLD.invoice_id <> NEW.invoice_id
      AND (SELECT status FROM erp.invoices WHERE id = OLD.invoice_id FOR SHARE) <> 'draft') THEN
    IF v_status IS NULL AND TG_OP = 'DELETE' THEN RETURN OLD; END IF; -- the draft itself is being deleted
    -- a retention run removes the lines of invoices whose period ended (ops.retention_authorises)
    IF TG_OP = 'DELETE' THEN
      IF ops.retention_authorises(TG_RELID, to_jsonb(OLD)) THEN
        RETURN OLD;
      END IF;
    END IF;
    RAISE EXCEPTION 'the invoice is finalised: its lines cannot change'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_finalised';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  NEW.line_net_cents := round(NEW.quantity * NEW.unit_price_cents);
  RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION erp.freeze_quote() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status <> 'draft' AND (TG_OP = 'DELETE' OR (NEW.customer_id, NEW.site_id, NEW.title, NEW.valid_until, NEW.notes)
      IS DISTINCT FROM (OLD.customer_id, OLD.site_id, OLD.title, OLD.valid_until, OLD.notes)) THEN
    -- a retention run removes quotes whose period ended (ops.retention_authorises)
    IF TG_OP = 'DELETE' THEN
      IF ops.retention_authorises(TG_RELID, to_jsonb(OLD)) THEN
        RETURN OLD;
      END IF;
    END IF;
    RAISE EXCEPTION 'quote % is %: only a draft changes', OLD.number, OLD.status
      USING ERRCODE = 'check_violation', CONSTRAINT = 'quote_not_draft';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;

CREATE OR REPLACE FUNCTION erp.freeze_quote_lines() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_status text;
BEGIN
  SELECT status INTO v_status FROM erp.quotes
  WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.quote_id ELSE NEW.quote_id END FOR SHARE;
  IF v_status IS NULL AND TG_OP = 'DELETE' THEN RETURN OLD; END IF; -- the quote itself is being deleted
  IF v_status IS DISTINCT FROM 'draft' OR (TG_OP = 'UPDATE' AND OLD.quote_id <> NEW.quote_id
      AND (SELECT status FROM erp.quotes WHERE id = OLD.quote_id FOR SHARE) <> 'draft') THEN
    -- a retention run removes the lines of quotes whose period ended (ops.retention_authorises)
    IF TG_OP = 'DELETE' THEN
      IF ops.retention_authorises(TG_RELID, to_jsonb(OLD)) THEN
        RETURN OLD;
      END IF;
    END IF;
    RAISE EXCEPTION 'the quote is no longer a draft: its lines cannot change'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'quote_not_draft';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  NEW.line_net_cents := round(NEW.quantity * NEW.unit_price_cents);
  RETURN NEW;
END
$$;

-- A held record is deleted by nobody (also where nothing froze it: drafts, open months, tickets).
CREATE FUNCTION ops.refuse_held_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_table text := TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
  v_customer uuid;
BEGIN
  SELECT customer_id INTO v_customer FROM ops.retention_records WHERE table_name = v_table AND id = OLD.id;
  v_customer := coalesce(v_customer, (to_jsonb(OLD) ->> 'customer_id')::uuid);
  IF EXISTS (SELECT FROM ops.legal_holds WHERE released_at IS NULL
             AND ((table_name = v_table AND record_id = OLD.id) OR customer_id = v_customer)) THEN
    -- reported as the reference it is (HTTP: HUB_ERR_IN_USE; a run keeps the record as referenced)
    RAISE EXCEPTION '% % is under a legal hold: it is kept until the hold is released', v_table, OLD.id
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'legal_hold', SCHEMA = 'ops', TABLE = 'legal_holds',
        DETAIL = format('Key (id)=(%s) is still referenced from table "legal_holds".', OLD.id);
  END IF;
  RETURN OLD;
END
$$;
CREATE TRIGGER invoices_legal_hold BEFORE DELETE ON erp.invoices FOR EACH ROW EXECUTE FUNCTION ops.refuse_held_delete();
CREATE TRIGGER payments_legal_hold BEFORE DELETE ON erp.payments FOR EACH ROW EXECUTE FUNCTION ops.refuse_held_delete();
CREATE TRIGGER quotes_legal_hold BEFORE DELETE ON erp.quotes FOR EACH ROW EXECUTE FUNCTION ops.refuse_held_delete();
CREATE TRIGGER time_bookings_legal_hold BEFORE DELETE ON erp.time_bookings FOR EACH ROW EXECUTE FUNCTION ops.refuse_held_delete();
CREATE TRIGGER tickets_legal_hold BEFORE DELETE ON erp.tickets FOR EACH ROW EXECUTE FUNCTION ops.refuse_held_delete();

-- The clock of a run or an erasure: what the caller asks for when the caller is the owner (or a
-- member of it: the CLI, the hub's maintenance, tests with an injected clock); no later than the
-- database's now() for anybody else, so the application role cannot end a period early. Called
-- from the SECURITY DEFINER functions below, where current_user is the owner.
CREATE FUNCTION ops.retention_clock(p_as_of timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_as_of IS NULL THEN now()
              WHEN pg_has_role(session_user, current_user, 'MEMBER') THEN p_as_of
              ELSE least(p_as_of, now()) END
$$;

-- Removes one root record and its parts, copying each row to its archive table in the statement
-- that deletes it; returns the rows removed per table. A reference from a record that is kept
-- raises foreign_key_violation (the caller keeps the record and says why).
CREATE FUNCTION ops.retention_remove(p_table text, p_id uuid, p_run bigint) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  n integer;
  v jsonb := '{}';
  v_payment erp.payments;
  v_document erp.invoice_documents;
BEGIN
  CASE p_table
  WHEN 'erp.quotes' THEN
    WITH d AS (DELETE FROM erp.quote_lines WHERE quote_id = p_id RETURNING *)
    INSERT INTO archive.quote_lines SELECT d.*, p_run, now() FROM d;
    GET DIAGNOSTICS n = ROW_COUNT;
    v := v || jsonb_build_object('erp.quote_lines', n);
    WITH d AS (DELETE FROM erp.quotes WHERE id = p_id RETURNING *)
    INSERT INTO archive.quotes SELECT d.*, p_run, now() FROM d;
    GET DIAGNOSTICS n = ROW_COUNT;
    v := v || jsonb_build_object('erp.quotes', n);
  WHEN 'erp.payments' THEN
    DELETE FROM erp.payments WHERE id = p_id RETURNING * INTO v_payment;
    n := CASE WHEN v_payment.id IS NULL THEN 0 ELSE 1 END;
    IF n = 1 THEN
      INSERT INTO archive.payments SELECT (v_payment).*, p_run, now();
      -- the ledger's audit trigger records inserts only: its removal is appended here
      PERFORM audit.append('erp', 'payments', p_id::text, 'DELETE', to_jsonb(v_payment), NULL);
    END IF;
    v := v || jsonb_build_object('erp.payments', n);
  WHEN 'erp.invoices' THEN
    -- a quote's link to its invoice would be set null: a quote that is kept keeps its invoice
    IF EXISTS (SELECT FROM erp.quotes WHERE invoice_id = p_id) THEN
      RAISE EXCEPTION 'a quote that is kept names invoice %', p_id
        USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'quotes_invoice_id_fkey', SCHEMA = 'erp', TABLE = 'quotes';
    END IF;
    WITH d AS (DELETE FROM erp.invoiced_time_bookings t USING erp.invoice_lines l
               WHERE l.id = t.invoice_line_id AND l.invoice_id = p_id RETURNING t.*)
    INSERT INTO archive.invoiced_time_bookings SELECT d.*, p_run, now() FROM d;
    GET DIAGNOSTICS n = ROW_COUNT;
    v := v || jsonb_build_object('erp.invoiced_time_bookings', n);
    DELETE FROM erp.invoice_documents WHERE invoice_id = p_id RETURNING * INTO v_document;
    n := CASE WHEN v_document.invoice_id IS NULL THEN 0 ELSE 1 END;
    IF n = 1 THEN
      INSERT INTO archive.invoice_documents SELECT (v_document).*, p_run, now();
      PERFORM audit.append('erp', 'invoice_documents', p_id::text, 'DELETE', to_jsonb(v_document), NULL);
    END IF;
    v := v || jsonb_build_object('erp.invoice_documents', n);
    WITH d AS (DELETE FROM erp.invoice_lines WHERE invoice_id = p_id RETURNING *)
    INSERT INTO archive.invoice_lines SELECT d.*, p_run, now() FROM d;
    GET DIAGNOSTICS n = ROW_COUNT;
    v := v || jsonb_build_object('erp.invoice_lines', n);
    WITH d AS (DELETE FROM erp.invoices WHERE id = p_id RETURNING *)
    INSERT INTO archive.invoices SELECT d.*, p_run, now() FROM d;
    GET DIAGNOSTICS n = ROW_COUNT;
    v := v || jsonb_build_object('erp.invoices', n);
  WHEN 'erp.time_bookings' THEN
    WITH d AS (DELETE FROM erp.time_bookings WHERE id = p_id RETURNING *)
    INSERT INTO archive.time_bookings SELECT d.*, p_run, now() FROM d;
    GET DIAGNOSTICS n = ROW_COUNT;
    v := v || jsonb_build_object('erp.time_bookings', n);
  WHEN 'erp.tickets' THEN
    WITH d AS (DELETE FROM erp.tickets WHERE id = p_id RETURNING *)
    INSERT INTO archive.tickets SELECT d.*, p_run, now() FROM d;
    GET DIAGNOSTICS n = ROW_COUNT;
    v := v || jsonb_build_object('erp.tickets', n);
  END CASE;
  RETURN v;
END
$$;

-- GDPR erasure ------------------------------------------------------------------------------------
-- Pseudonymises customer `p_customer` as far as nothing forbids it as of `p_as_of`, records what
-- it did and what is restricted until when; changes nothing (and returns the stored report with
-- changed = false) when a request finds nothing new to do.
--  * A customer hold: nothing is touched (a held record is never pseudonymised); restricted.
--  * Otherwise e-mail, phone, notes, consents (withdrawn, sources removed) and contacts go at once:
--    no retention class needs them (the documents as finalised keep the buyer as invoiced).
--  * Records within their period, or held: name, kind, billing address, VAT id and Leitweg-ID stay —
--    the debitor's master data of the books (DATEV, GoBD export) and the addressee of the letters —
--    with processing restricted (Art. 18) until the last day a period runs (null while held).
--  * Nothing protects anything: the name becomes a pseudonym ('Gelöscht K-10001'), the address, VAT
--    id and Leitweg-ID go, the customer's sites lose street, notes and name, and the buyer of the
--    customer's archived invoice documents is pseudonymised too.
-- The audit trail keeps its before/after images (append-only, hash-chained; books, 10 years).
CREATE FUNCTION ops.erase_customer(p_customer uuid, p_requested_by text, p_as_of timestamptz) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_day date := (p_as_of AT TIME ZONE 'Europe/Berlin')::date;
  c erp.customers;
  v_after erp.customers;
  v_prev ops.erasure_requests;
  v_first boolean;
  v_customer_hold boolean;
  v_records_held boolean;
  v_protected jsonb;
  v_until date;
  v_status text;
  v_held boolean;
  v_pseudonym text;
  v_fields text[];
  v_contacts integer := 0;
  v_sites integer := 0;
  v_documents integer := 0;
  v_report jsonb;
BEGIN
  SELECT * INTO c FROM erp.customers WHERE id = p_customer FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no customer %', p_customer USING ERRCODE = 'no_data_found';
  END IF;
  IF nullif(current_setting('steinmetz.actor_id', true), '') IS NULL THEN
    PERFORM set_config('steinmetz.actor_id', p_requested_by, true);
  END IF;
  IF nullif(current_setting('steinmetz.reason', true), '') IS NULL THEN
    PERFORM set_config('steinmetz.reason', 'GDPR erasure request (Art. 17, 18)', true);
  END IF;
  SELECT * INTO v_prev FROM ops.erasure_requests WHERE customer_id = p_customer;
  v_first := NOT FOUND;
  v_customer_hold := EXISTS (SELECT FROM ops.legal_holds WHERE customer_id = p_customer AND released_at IS NULL);
  SELECT coalesce(jsonb_object_agg(p.table_name, jsonb_build_object('records', p.records, 'held', p.held,
           'keptUntil', p.kept_until)), '{}'::jsonb),
         max(p.kept_until), coalesce(bool_or(p.held > 0), false)
  INTO v_protected, v_until, v_records_held
  FROM (SELECT s.table_name, count(*) AS records, count(*) FILTER (WHERE s.held) AS held,
          max(s.expires_on) FILTER (WHERE s.expires_on > v_day) - 1 AS kept_until
        FROM ops.retention_state s
        WHERE s.customer_id = p_customer AND s.table_name = s.root_table AND (s.expires_on > v_day OR s.held)
        GROUP BY s.table_name) p;
  v_held := v_customer_hold OR v_records_held;
  v_pseudonym := 'Gelöscht ' || c.number;
  IF v_customer_hold THEN
    v_status := 'restricted';
  ELSE
    UPDATE erp.customers SET email = NULL, phone = NULL, notes = NULL,
      consent_newsletter = false, consent_newsletter_source = NULL,
      consent_monitoring = false, consent_monitoring_source = NULL,
      version = version + 1, updated_at = now()
    WHERE id = p_customer
      AND (email, phone, notes, consent_newsletter, consent_newsletter_source, consent_monitoring, consent_monitoring_source)
          IS DISTINCT FROM (NULL::text, NULL::text, NULL::text, false, NULL::text, false, NULL::text);
    DELETE FROM erp.contacts WHERE customer_id = p_customer;
    GET DIAGNOSTICS v_contacts = ROW_COUNT;
    IF v_until IS NULL AND NOT v_held THEN
      UPDATE erp.customers SET name = v_pseudonym, street = NULL, postal_code = NULL, city = NULL, vat_id = NULL,
        leitweg_id = NULL, version = version + 1, updated_at = now()
      WHERE id = p_customer
        AND (name::text, street, postal_code, city, vat_id, leitweg_id)
            IS DISTINCT FROM (v_pseudonym, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text);
      UPDATE erp.sites SET name = 'Anlage ' || left(id::text, 8), street = NULL, notes = NULL,
        version = version + 1, updated_at = now()
      WHERE customer_id = p_customer
        AND (name::text, street, notes) IS DISTINCT FROM ('Anlage ' || left(id::text, 8), NULL::text, NULL::text);
      GET DIAGNOSTICS v_sites = ROW_COUNT;
      UPDATE archive.invoice_documents d
      SET document = d.document || jsonb_build_object(
        'buyer', (d.document -> 'buyer') || jsonb_build_object('name', v_pseudonym, 'street', NULL, 'postalCode', NULL,
          'city', NULL, 'vatId', NULL, 'email', NULL),
        'deliveryAddress', NULL)
      FROM archive.invoices i
      WHERE i.id = d.invoice_id AND i.customer_id = p_customer
        AND d.document #>> '{buyer,name}' IS DISTINCT FROM v_pseudonym;
      GET DIAGNOSTICS v_documents = ROW_COUNT;
      v_status := 'erased';
    ELSE
      v_status := 'restricted';
    END IF;
  END IF;
  SELECT * INTO v_after FROM erp.customers WHERE id = p_customer;
  SELECT coalesce(array_agg(a.key ORDER BY a.key), '{}') INTO v_fields
  FROM jsonb_each(to_jsonb(v_after)) a
  WHERE a.value IS DISTINCT FROM to_jsonb(c) -> a.key
    AND a.key NOT IN ('version', 'updated_at', 'consent_newsletter_at', 'consent_monitoring_at');
  IF NOT v_first AND cardinality(v_fields) = 0 AND v_contacts = 0 AND v_sites = 0 AND v_documents = 0
     AND v_prev.status = v_status AND v_prev.held = v_held
     AND v_prev.restricted_until IS NOT DISTINCT FROM (CASE WHEN v_status = 'restricted' AND NOT v_held THEN v_until END) THEN
    RETURN v_prev.report || jsonb_build_object('changed', false);
  END IF;
  v_report := jsonb_build_object(
    'customerId', p_customer,
    'customerNumber', c.number,
    'status', v_status,
    'asOfDay', v_day,
    'restrictedUntil', CASE WHEN v_status = 'restricted' AND NOT v_held THEN v_until END,
    'held', v_held,
    'pseudonymised', jsonb_build_object('erp.customers', to_jsonb(v_fields), 'erp.sites', v_sites,
      'archive.invoice_documents', v_documents),
    'deleted', jsonb_build_object('erp.contacts', v_contacts),
    'kept', CASE
      WHEN v_customer_hold THEN jsonb_build_object('fields', 'all', 'because', 'the customer is under a legal hold')
      WHEN v_status = 'restricted' THEN jsonb_build_object(
        'fields', jsonb_build_array('name', 'kind', 'street', 'postal_code', 'city', 'country', 'vat_id', 'leitweg_id'),
        'because', 'records within their retention period or held need the buyer as invoiced and addressed (debitor master data of the books)',
        'records', v_protected)
      ELSE '{}'::jsonb END,
    'auditTrail', 'kept: the audit trail is append-only and hash-chained (books, 10 years); its before and after images stay, with processing restricted');
  INSERT INTO ops.erasure_requests AS e (customer_id, requested_by, status, restricted_until, held, as_of_day, completed_at, report, history)
  VALUES (p_customer, p_requested_by, v_status, (v_report ->> 'restrictedUntil')::date, v_held, v_day,
    CASE WHEN v_status = 'erased' THEN now() END, v_report, jsonb_build_array(v_report))
  ON CONFLICT (customer_id) DO UPDATE SET status = EXCLUDED.status, restricted_until = EXCLUDED.restricted_until,
    held = EXCLUDED.held, evaluated_at = now(), as_of_day = EXCLUDED.as_of_day,
    completed_at = coalesce(e.completed_at, EXCLUDED.completed_at), report = EXCLUDED.report,
    history = e.history || EXCLUDED.history;
  RETURN v_report || jsonb_build_object('changed', true);
END
$$;

-- The erasure request as the application makes it (its clock no later than now()).
CREATE FUNCTION ops.request_erasure(p_customer uuid, p_requested_by text, p_as_of timestamptz) RETURNS jsonb
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT ops.erase_customer(p_customer, p_requested_by, ops.retention_clock(p_as_of))
$$;

-- Holds: placed on a record of a retained table (one that exists) or on a customer; released once.
CREATE FUNCTION ops.place_legal_hold(p_table text, p_record_id uuid, p_customer_id uuid, p_reason text, p_placed_by text)
RETURNS ops.legal_holds
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_key text;
  v_exists boolean;
  v_hold ops.legal_holds;
BEGIN
  IF NOT ((p_customer_id IS NULL AND p_table IS NOT NULL AND p_record_id IS NOT NULL)
          OR (p_customer_id IS NOT NULL AND p_table IS NULL AND p_record_id IS NULL)) THEN
    RAISE EXCEPTION 'a legal hold names one record (table and id) or one customer'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'legal_holds_subject';
  END IF;
  IF nullif(current_setting('steinmetz.actor_id', true), '') IS NULL THEN
    PERFORM set_config('steinmetz.actor_id', p_placed_by, true);
  END IF;
  IF p_table IS NOT NULL THEN
    SELECT key_column INTO v_key FROM ops.retention_tables
    WHERE table_name = p_table AND part_of IS NULL AND action = 'archive_delete';
    IF NOT FOUND THEN
      RAISE EXCEPTION '% is not a table whose records are removed after their retention period (holds name an invoice, payment, quote, time booking or ticket)', p_table
        USING ERRCODE = 'check_violation', CONSTRAINT = 'legal_holds_table';
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT FROM %s WHERE %I = $1)', p_table::regclass, v_key) INTO v_exists USING p_record_id;
  ELSE
    v_exists := EXISTS (SELECT FROM erp.customers WHERE id = p_customer_id);
  END IF;
  IF NOT v_exists THEN
    RAISE EXCEPTION 'no record % in %', coalesce(p_record_id, p_customer_id), coalesce(p_table, 'erp.customers')
      USING ERRCODE = 'no_data_found';
  END IF;
  INSERT INTO ops.legal_holds (table_name, record_id, customer_id, reason, placed_by)
  VALUES (p_table, p_record_id, p_customer_id, p_reason, p_placed_by) RETURNING * INTO v_hold;
  RETURN v_hold;
END
$$;

CREATE FUNCTION ops.release_legal_hold(p_id uuid, p_released_by text, p_reason text) RETURNS ops.legal_holds
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_hold ops.legal_holds;
BEGIN
  IF nullif(current_setting('steinmetz.actor_id', true), '') IS NULL THEN
    PERFORM set_config('steinmetz.actor_id', p_released_by, true);
  END IF;
  SELECT * INTO v_hold FROM ops.legal_holds WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no legal hold %', p_id USING ERRCODE = 'no_data_found';
  END IF;
  IF v_hold.released_at IS NOT NULL THEN
    RAISE EXCEPTION 'legal hold % was released at %', p_id, v_hold.released_at
      USING ERRCODE = 'check_violation', CONSTRAINT = 'legal_holds_released';
  END IF;
  UPDATE ops.legal_holds SET released_at = now(), released_by = p_released_by, release_reason = p_reason
  WHERE id = p_id RETURNING * INTO v_hold;
  RETURN v_hold;
END
$$;

-- The run --------------------------------------------------------------------------------------------
-- As of `p_as_of`: removes (archives and deletes) every unheld record whose period has ended, root
-- by root in the mapping's order, each in a subtransaction so that one a kept record references
-- stays (reported with the constraint) while the rest go; copies expired audit records to the
-- archive; completes erasures whose restriction ended; logs and returns the report. Runs one at a
-- time (transaction-level advisory lock).
CREATE FUNCTION ops.run_retention(p_as_of timestamptz) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v_as_of timestamptz := ops.retention_clock(p_as_of);
  v_day date := (v_as_of AT TIME ZONE 'Europe/Berlin')::date;
  v_run bigint;
  v_tables jsonb := '{}';
  v_erasures jsonb := '[]';
  v_report jsonb;
  v_removed jsonb;
  v_referenced jsonb;
  v_erasure jsonb;
  v_constraint text;
  v_schema text;
  v_by text;
  v_cutoff timestamptz;
  v_years integer;
  n bigint;
  m record;
  r record;
  k record;
BEGIN
  PERFORM pg_advisory_xact_lock(7340020, 0);
  IF nullif(current_setting('steinmetz.actor_id', true), '') IS NULL THEN
    PERFORM set_config('steinmetz.actor_id', 'system:retention', true);
  END IF;
  IF nullif(current_setting('steinmetz.reason', true), '') IS NULL THEN
    PERFORM set_config('steinmetz.reason', format('retention run as of %s', v_day), true);
  END IF;
  INSERT INTO ops.retention_runs (as_of, requested_as_of, as_of_day, run_by)
  VALUES (v_as_of, coalesce(p_as_of, v_as_of), v_day, current_setting('steinmetz.actor_id'))
  RETURNING id INTO v_run;
  PERFORM set_config('steinmetz.retention_run', v_run::text, true);

  FOR m IN SELECT t.table_name, t.class, c.years, t.part_of, t.action
           FROM ops.retention_tables t JOIN ops.retention_classes c ON c.class = t.class ORDER BY t.run_order, t.table_name LOOP
    v_tables := v_tables || jsonb_build_object(m.table_name, jsonb_build_object('class', m.class, 'years', m.years,
      'archived', 0, 'deleted', 0)
      || CASE WHEN m.part_of IS NULL THEN jsonb_build_object('kept', jsonb_build_object('period', 0, 'held', 0, 'referenced', 0),
           'nextExpiry', NULL, 'held', '[]'::jsonb, 'referenced', '[]'::jsonb)
         ELSE jsonb_build_object('partOf', m.part_of) END);
  END LOOP;

  -- what stays, and why: within the period (with the next day one ends), or held
  FOR r IN SELECT s.table_name, count(*) FILTER (WHERE s.expires_on > v_day) AS period,
             min(s.expires_on) FILTER (WHERE s.expires_on > v_day) AS next_expiry,
             coalesce(jsonb_agg(s.id ORDER BY s.id) FILTER (WHERE s.expires_on <= v_day AND s.held), '[]'::jsonb) AS held
           FROM ops.retention_state s WHERE s.table_name = s.root_table GROUP BY s.table_name LOOP
    v_tables := jsonb_set(v_tables, ARRAY[r.table_name], (v_tables -> r.table_name)
      || jsonb_build_object('nextExpiry', r.next_expiry, 'held', r.held,
           'kept', jsonb_build_object('period', r.period, 'held', jsonb_array_length(r.held), 'referenced', 0)));
  END LOOP;

  -- what goes
  FOR m IN SELECT table_name FROM ops.retention_tables WHERE part_of IS NULL AND action = 'archive_delete'
           ORDER BY run_order, table_name LOOP
    v_referenced := '[]';
    FOR r IN SELECT s.id FROM ops.retention_state s
             WHERE s.table_name = m.table_name AND s.root_table = m.table_name AND s.expires_on <= v_day AND NOT s.held
             ORDER BY s.dependent DESC, s.record_date, s.id LOOP
      BEGIN
        v_removed := ops.retention_remove(m.table_name, r.id, v_run);
        FOR k IN SELECT key, value::bigint AS n FROM jsonb_each_text(v_removed) LOOP
          v_tables := jsonb_set(v_tables, ARRAY[k.key], (v_tables -> k.key) || jsonb_build_object(
            'archived', (v_tables #>> ARRAY[k.key, 'archived'])::bigint + k.n,
            'deleted', (v_tables #>> ARRAY[k.key, 'deleted'])::bigint + k.n));
        END LOOP;
      EXCEPTION WHEN foreign_key_violation THEN
        GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME, v_schema = SCHEMA_NAME, v_by = TABLE_NAME;
        v_referenced := v_referenced || jsonb_build_array(jsonb_build_object('id', r.id, 'constraint', v_constraint,
          'by', v_schema || '.' || v_by));
      END;
    END LOOP;
    v_tables := jsonb_set(v_tables, ARRAY[m.table_name], (v_tables -> m.table_name) || jsonb_build_object(
      'referenced', v_referenced,
      'kept', (v_tables #> ARRAY[m.table_name, 'kept']) || jsonb_build_object('referenced', jsonb_array_length(v_referenced))));
  END LOOP;

  -- the audit trail: copied to the archive once its period ended, never deleted (hash chain)
  SELECT c.years INTO v_years FROM ops.retention_tables t JOIN ops.retention_classes c ON c.class = t.class
  WHERE t.table_name = 'audit.records';
  v_cutoff := make_date(extract(year FROM v_day)::integer - v_years, 1, 1)::timestamp AT TIME ZONE 'Europe/Berlin';
  INSERT INTO archive.audit_records
  SELECT a.*, v_run, now() FROM audit.records a
  WHERE a.at < v_cutoff AND NOT EXISTS (SELECT FROM archive.audit_records x WHERE x.id = a.id)
  ORDER BY a.id;
  GET DIAGNOSTICS n = ROW_COUNT;
  v_tables := jsonb_set(v_tables, '{audit.records}', (v_tables -> 'audit.records') || jsonb_build_object(
    'archived', n, 'deleted', 0,
    'kept', jsonb_build_object('hashChain', n, 'why', 'audit records stay in the hash chain that audit verify checks; the archive holds a copy')));

  -- erasures whose restriction has ended (or was held: the hold may be released)
  FOR r IN SELECT customer_id FROM ops.erasure_requests
           WHERE status = 'restricted' AND (restricted_until IS NULL OR restricted_until < v_day) ORDER BY customer_id LOOP
    v_erasure := ops.erase_customer(r.customer_id, 'system:retention', v_as_of);
    IF (v_erasure ->> 'changed')::boolean THEN
      v_erasures := v_erasures || jsonb_build_array(jsonb_build_object('customerId', r.customer_id,
        'status', v_erasure ->> 'status', 'restrictedUntil', v_erasure -> 'restrictedUntil',
        'pseudonymised', v_erasure -> 'pseudonymised'));
    END IF;
  END LOOP;

  v_report := jsonb_build_object('runId', v_run, 'asOf', v_as_of, 'requestedAsOf', coalesce(p_as_of, v_as_of),
    'asOfDay', v_day, 'tables', v_tables, 'erasures', v_erasures);
  UPDATE ops.retention_runs SET status = 'done', finished_at = clock_timestamp(), report = v_report WHERE id = v_run;
  PERFORM set_config('steinmetz.retention_run', '', true);
  RETURN v_report;
END
$$;

-- Only the owner runs retention (the hub's maintenance pool, the CLI); the application places and
-- releases holds and requests erasures through the functions made for it.
REVOKE EXECUTE ON FUNCTION ops.run_retention(timestamptz), ops.retention_remove(text, uuid, bigint),
  ops.erase_customer(uuid, text, timestamptz), ops.retention_clock(timestamptz),
  ops.request_erasure(uuid, text, timestamptz), ops.place_legal_hold(text, uuid, uuid, text, text),
  ops.release_legal_hold(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.request_erasure(uuid, text, timestamptz), ops.place_legal_hold(text, uuid, uuid, text, text),
  ops.release_legal_hold(uuid, text, text) TO steinmetz_app;
