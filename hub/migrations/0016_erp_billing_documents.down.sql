-- Audit records of these tables stay in the audit trail.
DROP TABLE erp.invoice_documents;
-- finalisation as migration 0015 made it
DROP FUNCTION erp.finalise_invoice(uuid, jsonb);
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
DROP TABLE erp.quote_lines;
DROP FUNCTION erp.freeze_quote_lines();
DROP TABLE erp.quotes;
DROP FUNCTION erp.freeze_quote();
DROP TABLE erp.invoiced_time_bookings;
DROP VIEW erp.open_items;
DROP TABLE erp.payments;
DROP FUNCTION erp.check_payment();
DROP TRIGGER invoice_lines_check_credit ON erp.invoice_lines;
DROP FUNCTION erp.check_credit_line();
ALTER TABLE erp.invoice_lines DROP COLUMN credits_line_id;
DROP INDEX erp.invoices_due_open;
DROP INDEX erp.invoices_type_code;
DROP INDEX erp.invoices_corrects;
DROP TRIGGER invoices_check_correction ON erp.invoices;
DROP FUNCTION erp.check_correction();
ALTER TABLE erp.customers DROP COLUMN leitweg_id;
DROP TABLE erp.company_settings;
