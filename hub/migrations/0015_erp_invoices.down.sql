-- Audit records of these tables stay in the audit trail.
DROP FUNCTION erp.finalise_invoice(uuid);
DROP TABLE erp.invoice_lines;
DROP FUNCTION erp.freeze_invoice_lines();
DROP TABLE erp.invoices;
DROP FUNCTION erp.freeze_invoice();
DROP TABLE erp.number_ranges;
