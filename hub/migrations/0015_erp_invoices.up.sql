-- Invoices and credit notes: drafts without a number; finalising (erp.finalise_invoice) computes
-- the totals as EN 16931 defines them and takes the next number of the document's series from
-- its counter row in the same transaction, so numbers are unique and without gaps (a finalisation
-- that rolls back gives its number back). A finalised document is frozen for every role: its row
-- and its lines refuse UPDATE and DELETE by trigger, also for the owner.

-- One counter per series ('RE-2026', 'GS-2026'): the next number to give.
CREATE TABLE erp.number_ranges (
  series text PRIMARY KEY CHECK (series ~ '^[A-Z]{2}-[0-9]{4}$'),
  next_number integer NOT NULL DEFAULT 1 CHECK (next_number >= 1),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER number_ranges_audit AFTER INSERT OR UPDATE OR DELETE ON erp.number_ranges
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

CREATE TABLE erp.invoices (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- UNTDID 1001: 380 commercial invoice, 381 credit note
  type_code smallint NOT NULL DEFAULT 380 CHECK (type_code IN (380, 381)),
  status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'finalised')),
  series text,
  number text UNIQUE,
  customer_id uuid NOT NULL REFERENCES erp.customers,
  project_id uuid REFERENCES erp.projects,
  site_id uuid REFERENCES erp.sites,
  corrects_id uuid REFERENCES erp.invoices,
  issue_date date,
  due_date date,
  delivery_date date,
  buyer_reference text CHECK (length(buyer_reference) <= 200),
  notes text CHECK (length(notes) <= 4000),
  net_cents bigint,
  vat_cents bigint,
  gross_cents bigint,
  finalised_at timestamptz,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT invoices_numbered_when_final CHECK ((status = 'draft') = (number IS NULL)),
  CONSTRAINT invoices_credit_note_corrects CHECK ((type_code = 381) = (corrects_id IS NOT NULL))
);
CREATE INDEX invoices_customer ON erp.invoices (customer_id);
CREATE INDEX invoices_project ON erp.invoices (project_id) WHERE project_id IS NOT NULL;
CREATE INDEX invoices_status_id ON erp.invoices (status, id);
CREATE INDEX invoices_issue_date_id ON erp.invoices (issue_date, id);
CREATE INDEX invoices_created_at_id ON erp.invoices (created_at, id);
CREATE INDEX invoices_updated_at_id ON erp.invoices (updated_at, id);
CREATE INDEX invoices_search_number ON erp.invoices USING gin (number gin_trgm_ops);
CREATE TRIGGER invoices_audit AFTER INSERT OR UPDATE OR DELETE ON erp.invoices
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

CREATE TABLE erp.invoice_lines (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  invoice_id uuid NOT NULL REFERENCES erp.invoices ON DELETE CASCADE,
  position integer NOT NULL CHECK (position BETWEEN 1 AND 9999),
  kind text NOT NULL CHECK (kind IN ('article', 'hours', 'flat')),
  article_id uuid REFERENCES erp.articles,
  serial_number text CHECK (length(serial_number) BETWEEN 1 AND 100),
  description text NOT NULL CHECK (length(description) BETWEEN 1 AND 1000),
  quantity numeric(14, 3) NOT NULL CHECK (quantity <> 0),
  unit text NOT NULL DEFAULT 'H87' CHECK (unit ~ '^[A-Z0-9]{2,3}$'),
  unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
  -- EN 16931 BT-131: quantity × price, rounded to the cent (set by trigger)
  line_net_cents bigint NOT NULL DEFAULT 0,
  vat_category text NOT NULL CHECK (vat_category IN ('S', 'Z', 'E', 'AE')),
  vat_rate numeric(5, 2) NOT NULL,
  exemption_reason text CHECK (length(exemption_reason) <= 500),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT invoice_lines_position UNIQUE (invoice_id, position),
  CONSTRAINT invoice_lines_article CHECK ((kind = 'article') = (article_id IS NOT NULL)),
  CONSTRAINT invoice_lines_vat_rate CHECK (
    (vat_category = 'S' AND vat_rate IN (19, 7)) OR (vat_category <> 'S' AND vat_rate = 0)),
  CONSTRAINT invoice_lines_exemption CHECK ((vat_category = 'E') = (exemption_reason IS NOT NULL))
);
CREATE INDEX invoice_lines_created_at_id ON erp.invoice_lines (created_at, id);
CREATE INDEX invoice_lines_updated_at_id ON erp.invoice_lines (updated_at, id);
CREATE INDEX invoice_lines_position_id ON erp.invoice_lines (position, id);
CREATE INDEX invoice_lines_article ON erp.invoice_lines (article_id) WHERE article_id IS NOT NULL;
CREATE TRIGGER invoice_lines_audit AFTER INSERT OR UPDATE OR DELETE ON erp.invoice_lines
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- A finalised document never changes: not its row (but for finalising it), not its lines.
CREATE FUNCTION erp.freeze_invoice() RETURNS trigger
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
CREATE TRIGGER invoices_freeze BEFORE UPDATE OR DELETE ON erp.invoices FOR EACH ROW EXECUTE FUNCTION erp.freeze_invoice();

CREATE FUNCTION erp.freeze_invoice_lines() RETURNS trigger
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
CREATE TRIGGER invoice_lines_freeze BEFORE INSERT OR UPDATE OR DELETE ON erp.invoice_lines
  FOR EACH ROW EXECUTE FUNCTION erp.freeze_invoice_lines();

-- Finalises a draft: checks it, computes its totals (EN 16931: line nets summed; VAT per category
-- and rate on the group's sum, rounded to the cent), gives it the next number of its series (the
-- counter row's lock orders concurrent finalisations; a rollback returns the number) and stamps
-- the issue date (today unless set) and the due date (14 days later unless set).
CREATE FUNCTION erp.finalise_invoice(p_id uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v erp.invoices;
  v_series text;
  v_number integer;
  v_net bigint;
  v_vat bigint;
  v_issue date;
BEGIN
  SELECT * INTO v FROM erp.invoices WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no invoice %', p_id USING ERRCODE = 'no_data_found';
  END IF;
  IF v.status <> 'draft' THEN
    RAISE EXCEPTION 'invoice % is finalised already', v.number USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_finalised';
  END IF;
  IF NOT EXISTS (SELECT FROM erp.invoice_lines WHERE invoice_id = p_id) THEN
    RAISE EXCEPTION 'an invoice without lines cannot be finalised' USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_has_lines';
  END IF;
  IF EXISTS (SELECT FROM erp.invoice_lines WHERE invoice_id = p_id AND vat_category = 'AE')
     AND (SELECT vat_id FROM erp.customers WHERE id = v.customer_id) IS NULL THEN
    RAISE EXCEPTION 'reverse charge needs the customer''s VAT id' USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_reverse_charge_vat_id';
  END IF;
  IF EXISTS (SELECT FROM erp.invoice_lines l JOIN erp.articles a ON a.id = l.article_id
             WHERE l.invoice_id = p_id AND a.serialised AND l.serial_number IS NULL) THEN
    RAISE EXCEPTION 'a serialised article is invoiced with its serial number' USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_lines_serial';
  END IF;
  SELECT coalesce(sum(line_net_cents), 0) INTO v_net FROM erp.invoice_lines WHERE invoice_id = p_id;
  SELECT coalesce(sum(tax), 0) INTO v_vat FROM (
    SELECT round(sum(line_net_cents) * vat_rate / 100) AS tax FROM erp.invoice_lines WHERE invoice_id = p_id
    GROUP BY vat_category, vat_rate) g;
  v_issue := coalesce(v.issue_date, current_date);
  v_series := CASE v.type_code WHEN 380 THEN 'RE' ELSE 'GS' END || '-' || to_char(v_issue, 'YYYY');
  INSERT INTO erp.number_ranges (series, next_number) VALUES (v_series, 2)
  ON CONFLICT (series) DO UPDATE SET next_number = erp.number_ranges.next_number + 1, updated_at = now()
  RETURNING next_number - 1 INTO v_number;
  UPDATE erp.invoices SET status = 'finalised', series = v_series, number = v_series || '-' || lpad(v_number::text, greatest(5, length(v_number::text)), '0'),
    issue_date = v_issue, due_date = coalesce(v.due_date, v_issue + 14), net_cents = v_net, vat_cents = v_vat,
    gross_cents = v_net + v_vat, finalised_at = now(), version = version + 1, updated_at = now()
  WHERE id = p_id;
END
$$;

-- Number ranges change only by finalisation.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON erp.number_ranges FROM steinmetz_app;
