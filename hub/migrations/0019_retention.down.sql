-- Back to migration 0018: the freeze triggers as migrations 0013 to 0016 made them (no deletion
-- after the retention period), and no holds, runs, erasure requests or archive. The audit records
-- of these tables stay in the audit trail.
REVOKE EXECUTE ON FUNCTION ops.request_erasure(uuid, text, timestamptz), ops.place_legal_hold(text, uuid, uuid, text, text),
  ops.release_legal_hold(uuid, text, text) FROM steinmetz_app;
DROP FUNCTION ops.run_retention(timestamptz);
DROP FUNCTION ops.release_legal_hold(uuid, text, text);
DROP FUNCTION ops.place_legal_hold(text, uuid, uuid, text, text);
DROP FUNCTION ops.request_erasure(uuid, text, timestamptz);
DROP FUNCTION ops.erase_customer(uuid, text, timestamptz);
DROP FUNCTION ops.retention_remove(text, uuid, bigint);
DROP FUNCTION ops.retention_clock(timestamptz);

DROP TRIGGER tickets_legal_hold ON erp.tickets;
DROP TRIGGER time_bookings_legal_hold ON erp.time_bookings;
DROP TRIGGER quotes_legal_hold ON erp.quotes;
DROP TRIGGER payments_legal_hold ON erp.payments;
DROP TRIGGER invoices_legal_hold ON erp.invoices;
DROP FUNCTION ops.refuse_held_delete();

CREATE OR REPLACE FUNCTION erp.refuse_ledger_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
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
    RAISE EXCEPTION 'the quote is no longer a draft: its lines cannot change'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'quote_not_draft';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  NEW.line_net_cents := round(NEW.quantity * NEW.unit_price_cents);
  RETURN NEW;
END
$$;

DROP FUNCTION ops.retention_authorises(regclass, jsonb);

ALTER DEFAULT PRIVILEGES IN SCHEMA archive REVOKE SELECT ON TABLES FROM steinmetz_app, steinmetz_auditor;
DROP TABLE archive.audit_records, archive.tickets, archive.time_bookings, archive.invoiced_time_bookings,
  archive.invoice_documents, archive.invoice_lines, archive.invoices, archive.payments, archive.quote_lines,
  archive.quotes;
DROP SCHEMA archive;

DROP VIEW ops.retention_state;
DROP TABLE ops.erasure_requests;
DROP TABLE ops.retention_schedule;
DROP TABLE ops.retention_runs;
DROP TABLE ops.legal_holds;
DROP FUNCTION ops.guard_retention_log();
DROP VIEW ops.retention_records;
DROP TABLE ops.retention_tables;
DROP TABLE ops.retention_classes;
