-- Billing, second part: the company's own data (seller of every document, DATEV settings),
-- quotes that turn into a project and an invoice draft, credit notes that credit an invoice's
-- lines at most once in full, payments as an append-only ledger that never pays more than is
-- open, and hours invoiced from time bookings at most once. Each rule is the database's.

-- One row: the company that issues the documents, and its DATEV settings.
CREATE TABLE erp.company_settings (
  id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
  name text CHECK (length(name) <= 200),
  street text CHECK (length(street) <= 200),
  postal_code text CHECK (length(postal_code) <= 20),
  city text CHECK (length(city) <= 100),
  country text NOT NULL DEFAULT 'DE' CHECK (country ~ '^[A-Z]{2}$'),
  vat_id text CHECK (vat_id ~ '^[A-Z]{2}[0-9A-Za-z+*.]{2,12}$'),
  tax_number text CHECK (length(tax_number) <= 30),
  registration text CHECK (length(registration) <= 200),
  managing_directors text CHECK (length(managing_directors) <= 200),
  contact_name text CHECK (length(contact_name) <= 100),
  phone text CHECK (length(phone) <= 50),
  email text CHECK (length(email) <= 254),
  iban text CHECK (iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$'),
  bic text CHECK (bic ~ '^[A-Z0-9]{8}([A-Z0-9]{3})?$'),
  bank_name text CHECK (length(bank_name) <= 100),
  payment_terms_days integer NOT NULL DEFAULT 14 CHECK (payment_terms_days BETWEEN 0 AND 365),
  datev_advisor_number integer CHECK (datev_advisor_number BETWEEN 1001 AND 9999999),
  datev_client_number integer CHECK (datev_client_number BETWEEN 1 AND 99999),
  datev_chart text NOT NULL DEFAULT 'SKR03' CHECK (datev_chart IN ('SKR03', 'SKR04')),
  datev_account_length smallint NOT NULL DEFAULT 4 CHECK (datev_account_length BETWEEN 4 AND 8),
  datev_fiscal_year_start_month smallint NOT NULL DEFAULT 1 CHECK (datev_fiscal_year_start_month BETWEEN 1 AND 12),
  datev_account_s19 integer CHECK (datev_account_s19 BETWEEN 1 AND 99999999),
  datev_account_s7 integer CHECK (datev_account_s7 BETWEEN 1 AND 99999999),
  datev_account_z integer CHECK (datev_account_z BETWEEN 1 AND 99999999),
  datev_account_e integer CHECK (datev_account_e BETWEEN 1 AND 99999999),
  datev_account_ae integer CHECK (datev_account_ae BETWEEN 1 AND 99999999),
  datev_account_bank integer CHECK (datev_account_bank BETWEEN 1 AND 99999999),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO erp.company_settings (id) VALUES (1);
CREATE TRIGGER company_settings_audit AFTER INSERT OR UPDATE OR DELETE ON erp.company_settings
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();
-- The one row is changed, never added or removed.
REVOKE INSERT, DELETE, TRUNCATE ON erp.company_settings FROM steinmetz_app;

-- A public buyer's Leitweg-ID (XRechnung BT-10): coarse address, optional fine address, check digits.
ALTER TABLE erp.customers ADD COLUMN leitweg_id text
  CHECK (leitweg_id ~ '^[0-9]{2,12}(-[0-9A-Za-z]{1,30})?-[0-9]{2}$');

-- A credit note may only correct a finalised invoice.
CREATE FUNCTION erp.check_correction() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.corrects_id IS NOT NULL AND NOT EXISTS (
       SELECT FROM erp.invoices WHERE id = NEW.corrects_id AND type_code = 380 AND status = 'finalised') THEN
    RAISE EXCEPTION 'a credit note corrects a finalised invoice'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'invoices_corrects_finalised';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER invoices_check_correction BEFORE INSERT ON erp.invoices
  FOR EACH ROW EXECUTE FUNCTION erp.check_correction();
CREATE INDEX invoices_corrects ON erp.invoices (corrects_id) WHERE corrects_id IS NOT NULL;
CREATE INDEX invoices_type_code ON erp.invoices (type_code);
CREATE INDEX invoices_due_open ON erp.invoices (due_date) WHERE status = 'finalised' AND type_code = 380;

-- A credit note's line credits a line of the invoice it corrects: with the same sign, and all
-- credit notes together never more than the line's quantity. The corrected invoice's row lock
-- orders credit notes of one invoice (and its payments, below).
ALTER TABLE erp.invoice_lines ADD COLUMN credits_line_id uuid REFERENCES erp.invoice_lines;
CREATE INDEX invoice_lines_credits ON erp.invoice_lines (credits_line_id) WHERE credits_line_id IS NOT NULL;

CREATE FUNCTION erp.check_credit_line() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_corrects uuid;
  v_original erp.invoice_lines;
  v_credited numeric;
BEGIN
  SELECT corrects_id INTO v_corrects FROM erp.invoices WHERE id = NEW.invoice_id;
  IF (v_corrects IS NULL) <> (NEW.credits_line_id IS NULL) THEN
    RAISE EXCEPTION 'a credit note''s lines, and only they, name the line they credit'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_lines_credit_shape';
  END IF;
  IF NEW.credits_line_id IS NULL THEN RETURN NEW; END IF;
  PERFORM FROM erp.invoices WHERE id = v_corrects FOR UPDATE;
  SELECT * INTO v_original FROM erp.invoice_lines WHERE id = NEW.credits_line_id;
  IF v_original.invoice_id IS DISTINCT FROM v_corrects OR sign(NEW.quantity) <> sign(v_original.quantity)
     OR NEW.unit_price_cents <> v_original.unit_price_cents OR NEW.vat_category <> v_original.vat_category
     OR NEW.vat_rate <> v_original.vat_rate THEN
    RAISE EXCEPTION 'a credit line takes the price, VAT and sign of a line of the corrected invoice'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_lines_credit_shape';
  END IF;
  SELECT coalesce(sum(quantity), 0) INTO v_credited FROM erp.invoice_lines
  WHERE credits_line_id = NEW.credits_line_id AND id <> NEW.id;
  IF abs(v_credited + NEW.quantity) > abs(v_original.quantity) THEN
    RAISE EXCEPTION 'line % of the invoice has % left to credit', v_original.position, v_original.quantity - v_credited
      USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_lines_credit_exceeds';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER invoice_lines_check_credit BEFORE INSERT OR UPDATE ON erp.invoice_lines
  FOR EACH ROW EXECUTE FUNCTION erp.check_credit_line();

-- Payments: an append-only ledger on finalised invoices; a wrong one is reversed (once, in full).
CREATE TABLE erp.payments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  number bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  invoice_id uuid NOT NULL REFERENCES erp.invoices,
  amount_cents bigint NOT NULL,
  paid_on date NOT NULL DEFAULT current_date,
  method text NOT NULL DEFAULT 'transfer' CHECK (method IN ('transfer', 'direct_debit', 'cash', 'card', 'offset')),
  reference text CHECK (length(reference) <= 200),
  reverses_id uuid UNIQUE REFERENCES erp.payments,
  notes text CHECK (length(notes) <= 4000),
  version integer NOT NULL DEFAULT 1 CHECK (version = 1),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT payments_reversal_sign CHECK ((reverses_id IS NULL) = (amount_cents > 0))
);
CREATE INDEX payments_invoice ON erp.payments (invoice_id);
CREATE INDEX payments_paid_on ON erp.payments (paid_on);
CREATE INDEX payments_created_at_id ON erp.payments (created_at, id);
CREATE INDEX payments_updated_at_id ON erp.payments (updated_at, id);
CREATE TRIGGER payments_audit AFTER INSERT ON erp.payments FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE TRIGGER payments_append_only BEFORE UPDATE OR DELETE ON erp.payments
  FOR EACH ROW EXECUTE FUNCTION erp.refuse_ledger_change();
CREATE TRIGGER payments_no_truncate BEFORE TRUNCATE ON erp.payments
  FOR EACH STATEMENT EXECUTE FUNCTION erp.refuse_ledger_change();

-- What each finalised invoice still has open: its gross less its finalised credit notes and payments.
CREATE VIEW erp.open_items AS
SELECT i.id AS invoice_id, i.number, i.customer_id, i.issue_date, i.due_date, i.gross_cents,
  coalesce(c.credited, 0)::bigint AS credited_cents, coalesce(p.paid, 0)::bigint AS paid_cents,
  (i.gross_cents - coalesce(c.credited, 0) - coalesce(p.paid, 0))::bigint AS open_cents
FROM erp.invoices i
LEFT JOIN LATERAL (
  SELECT sum(n.gross_cents) AS credited FROM erp.invoices n WHERE n.corrects_id = i.id AND n.status = 'finalised') c ON true
LEFT JOIN LATERAL (SELECT sum(amount_cents) AS paid FROM erp.payments WHERE invoice_id = i.id) p ON true
WHERE i.type_code = 380 AND i.status = 'finalised';
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON erp.open_items FROM steinmetz_app;

-- Under the invoice's row lock: a payment never more than is open, a reversal exactly its payment.
CREATE FUNCTION erp.check_payment() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_invoice erp.invoices;
  v_reversed erp.payments;
  v_open bigint;
BEGIN
  SELECT * INTO v_invoice FROM erp.invoices WHERE id = NEW.invoice_id FOR UPDATE;
  IF v_invoice.status IS DISTINCT FROM 'finalised' OR v_invoice.type_code <> 380 THEN
    RAISE EXCEPTION 'payments are booked on finalised invoices'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_invoice_finalised';
  END IF;
  IF NEW.reverses_id IS NOT NULL THEN
    SELECT * INTO v_reversed FROM erp.payments WHERE id = NEW.reverses_id;
    IF v_reversed.invoice_id IS DISTINCT FROM NEW.invoice_id OR v_reversed.reverses_id IS NOT NULL THEN
      RAISE EXCEPTION 'a reversal names a payment of the same invoice (not a reversal)'
        USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_reversal';
    END IF;
    IF NEW.amount_cents IS NOT NULL AND NEW.amount_cents <> -v_reversed.amount_cents THEN
      RAISE EXCEPTION 'a reversal takes back its payment in full: % cents', -v_reversed.amount_cents
        USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_reversal_amount';
    END IF;
    NEW.amount_cents := -v_reversed.amount_cents;
    RETURN NEW;
  END IF;
  IF NEW.amount_cents IS NULL OR NEW.amount_cents <= 0 THEN
    RAISE EXCEPTION 'a payment has a positive amount'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_reversal_sign';
  END IF;
  SELECT open_cents INTO v_open FROM erp.open_items WHERE invoice_id = NEW.invoice_id;
  IF NEW.amount_cents > v_open THEN
    RAISE EXCEPTION 'invoice % has % cents open', v_invoice.number, greatest(v_open, 0)
      USING ERRCODE = 'check_violation', CONSTRAINT = 'payments_overpaid';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER payments_check BEFORE INSERT ON erp.payments FOR EACH ROW EXECUTE FUNCTION erp.check_payment();

-- Hours invoiced from time bookings: each booking on at most one invoice line (a draft deleted
-- gives its bookings back).
CREATE TABLE erp.invoiced_time_bookings (
  time_booking_id uuid PRIMARY KEY REFERENCES erp.time_bookings,
  invoice_line_id uuid NOT NULL REFERENCES erp.invoice_lines ON DELETE CASCADE
);
CREATE INDEX invoiced_time_bookings_line ON erp.invoiced_time_bookings (invoice_line_id);
CREATE TRIGGER invoiced_time_bookings_audit AFTER INSERT OR UPDATE OR DELETE ON erp.invoiced_time_bookings
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- Quotes (Angebote): numbered at creation (AN-00001…), edited while a draft, then sent and
-- accepted (into a project and an invoice draft), rejected or cancelled.
CREATE SEQUENCE erp.quote_number_seq;
CREATE TABLE erp.quotes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  number text NOT NULL UNIQUE DEFAULT 'AN-' || erp.number_text(nextval('erp.quote_number_seq')),
  status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'sent', 'accepted', 'rejected', 'cancelled')),
  customer_id uuid NOT NULL REFERENCES erp.customers,
  project_id uuid REFERENCES erp.projects,
  site_id uuid REFERENCES erp.sites,
  title text COLLATE "de-x-icu" NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  valid_until date,
  notes text CHECK (length(notes) <= 4000),
  accepted_at timestamptz,
  invoice_id uuid REFERENCES erp.invoices ON DELETE SET NULL,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER SEQUENCE erp.quote_number_seq OWNED BY erp.quotes.number;
CREATE INDEX quotes_customer ON erp.quotes (customer_id);
CREATE INDEX quotes_project ON erp.quotes (project_id) WHERE project_id IS NOT NULL;
CREATE INDEX quotes_status_id ON erp.quotes (status, id);
CREATE INDEX quotes_number_id ON erp.quotes (number, id);
CREATE INDEX quotes_title_id ON erp.quotes (title, id);
CREATE INDEX quotes_created_at_id ON erp.quotes (created_at, id);
CREATE INDEX quotes_updated_at_id ON erp.quotes (updated_at, id);
CREATE INDEX quotes_search_number ON erp.quotes USING gin (number gin_trgm_ops);
CREATE INDEX quotes_search_title ON erp.quotes USING gin (title gin_trgm_ops);
CREATE TRIGGER quotes_audit AFTER INSERT OR UPDATE OR DELETE ON erp.quotes
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

CREATE TABLE erp.quote_lines (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  quote_id uuid NOT NULL REFERENCES erp.quotes ON DELETE CASCADE,
  position integer NOT NULL CHECK (position BETWEEN 1 AND 9999),
  kind text NOT NULL CHECK (kind IN ('article', 'hours', 'flat')),
  article_id uuid REFERENCES erp.articles,
  description text NOT NULL CHECK (length(description) BETWEEN 1 AND 1000),
  quantity numeric(14, 3) NOT NULL CHECK (quantity <> 0),
  unit text NOT NULL DEFAULT 'H87' CHECK (unit ~ '^[A-Z0-9]{2,3}$'),
  unit_price_cents bigint NOT NULL CHECK (unit_price_cents >= 0),
  line_net_cents bigint NOT NULL DEFAULT 0,
  vat_category text NOT NULL CHECK (vat_category IN ('S', 'Z', 'E', 'AE')),
  vat_rate numeric(5, 2) NOT NULL,
  exemption_reason text CHECK (length(exemption_reason) <= 500),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT quote_lines_position UNIQUE (quote_id, position),
  CONSTRAINT quote_lines_article CHECK ((kind = 'article') = (article_id IS NOT NULL)),
  CONSTRAINT quote_lines_vat_rate CHECK (
    (vat_category = 'S' AND vat_rate IN (19, 7)) OR (vat_category <> 'S' AND vat_rate = 0)),
  CONSTRAINT quote_lines_exemption CHECK ((vat_category = 'E') = (exemption_reason IS NOT NULL))
);
CREATE INDEX quote_lines_created_at_id ON erp.quote_lines (created_at, id);
CREATE INDEX quote_lines_updated_at_id ON erp.quote_lines (updated_at, id);
CREATE INDEX quote_lines_position_id ON erp.quote_lines (position, id);
CREATE INDEX quote_lines_article ON erp.quote_lines (article_id) WHERE article_id IS NOT NULL;
CREATE TRIGGER quote_lines_audit AFTER INSERT OR UPDATE OR DELETE ON erp.quote_lines
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- What a quote offers changes only while it is a draft.
CREATE FUNCTION erp.freeze_quote() RETURNS trigger
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
CREATE TRIGGER quotes_freeze BEFORE UPDATE OR DELETE ON erp.quotes FOR EACH ROW EXECUTE FUNCTION erp.freeze_quote();

CREATE FUNCTION erp.freeze_quote_lines() RETURNS trigger
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
CREATE TRIGGER quote_lines_freeze BEFORE INSERT OR UPDATE OR DELETE ON erp.quote_lines
  FOR EACH ROW EXECUTE FUNCTION erp.freeze_quote_lines();

-- The document as finalised: parties, lines and totals as they were then, from which its PDF and
-- XRechnung are rendered at any later time alike (GoBD: an identical duplicate can be produced),
-- whatever changes in the customer or the company settings. Written once, by finalisation only.
CREATE TABLE erp.invoice_documents (
  invoice_id uuid PRIMARY KEY REFERENCES erp.invoices,
  document jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER invoice_documents_audit AFTER INSERT ON erp.invoice_documents
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE TRIGGER invoice_documents_append_only BEFORE UPDATE OR DELETE ON erp.invoice_documents
  FOR EACH ROW EXECUTE FUNCTION erp.refuse_ledger_change();
CREATE TRIGGER invoice_documents_no_truncate BEFORE TRUNCATE ON erp.invoice_documents
  FOR EACH STATEMENT EXECUTE FUNCTION erp.refuse_ledger_change();
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON erp.invoice_documents FROM steinmetz_app;

-- Finalising now also keeps the document (p_document: parties and lines as the hub assembled them
-- from the draft; number, dates and totals are the database's, and its VAT breakdown must add up to
-- the VAT computed here), checks the buyer's address, takes the payment terms from the company
-- settings and gives a credit note no due date. The number is taken last: the series' counter row
-- is locked from there to the commit, so the less follows it, the more finalisations a second.
DROP FUNCTION erp.finalise_invoice(uuid);
CREATE FUNCTION erp.finalise_invoice(p_id uuid, p_document jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  v erp.invoices;
  v_series text;
  v_number integer;
  v_text text;
  v_net bigint;
  v_vat bigint;
  v_issue date;
  v_due date;
  v_document jsonb;
  v_terms integer := coalesce((SELECT payment_terms_days FROM erp.company_settings WHERE id = 1), 14);
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
  IF EXISTS (SELECT FROM erp.customers WHERE id = v.customer_id
             AND (street IS NULL OR postal_code IS NULL OR city IS NULL)) THEN
    RAISE EXCEPTION 'an invoice names the customer''s full address (§ 14 Abs. 4 UStG): street, postal code, city'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_buyer_address';
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
  IF (SELECT coalesce(sum((g->>'taxCents')::bigint), 0) FROM jsonb_array_elements(p_document->'vatBreakdown') g) <> v_vat
     OR (SELECT count(*) FROM jsonb_array_elements(p_document->'lines'))
        <> (SELECT count(*) FROM erp.invoice_lines WHERE invoice_id = p_id) THEN
    RAISE EXCEPTION 'the document does not show the invoice''s lines and VAT' USING ERRCODE = 'check_violation', CONSTRAINT = 'invoice_document';
  END IF;
  v_issue := coalesce(v.issue_date, current_date);
  v_due := CASE WHEN v.type_code = 380 THEN coalesce(v.due_date, v_issue + v_terms) END;
  v_series := CASE v.type_code WHEN 380 THEN 'RE' ELSE 'GS' END || '-' || to_char(v_issue, 'YYYY');
  INSERT INTO erp.number_ranges (series, next_number) VALUES (v_series, 2)
  ON CONFLICT (series) DO UPDATE SET next_number = erp.number_ranges.next_number + 1, updated_at = now()
  RETURNING next_number - 1 INTO v_number;
  v_text := v_series || '-' || lpad(v_number::text, greatest(5, length(v_number::text)), '0');
  UPDATE erp.invoices SET status = 'finalised', series = v_series, number = v_text, issue_date = v_issue, due_date = v_due,
    net_cents = v_net, vat_cents = v_vat, gross_cents = v_net + v_vat, finalised_at = now(), version = version + 1,
    updated_at = now()
  WHERE id = p_id;
  v_document := p_document || jsonb_build_object('id', p_id, 'typeCode', v.type_code, 'number', v_text,
    'issueDate', v_issue::text, 'dueDate', v_due::text, 'deliveryDate', coalesce(v.delivery_date, v_issue)::text,
    'netCents', v_net, 'vatCents', v_vat, 'grossCents', v_net + v_vat);
  INSERT INTO erp.invoice_documents (invoice_id, document) VALUES (p_id, v_document);
  RETURN v_document;
END
$$;
