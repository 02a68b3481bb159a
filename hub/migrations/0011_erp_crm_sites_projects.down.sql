-- Audit records of these tables stay in the audit trail.
DROP TABLE erp.projects;
DROP FUNCTION erp.number_text(bigint);
DROP TABLE erp.devices;
DROP TABLE erp.gateways;
DROP TABLE erp.sites;
DROP TABLE erp.contacts;
DROP TRIGGER customers_consents ON erp.customers;
DROP FUNCTION erp.stamp_consents();
DROP INDEX erp.customers_name_id, erp.customers_updated_at_id, erp.customers_kind, erp.customers_search_name,
  erp.customers_search_email, erp.customers_search_city, erp.customers_search_number;
ALTER TABLE erp.customers ALTER COLUMN name TYPE text COLLATE "default";
ALTER TABLE erp.customers
  DROP COLUMN number, DROP COLUMN kind,
  DROP COLUMN consent_newsletter, DROP COLUMN consent_newsletter_at, DROP COLUMN consent_newsletter_source,
  DROP COLUMN consent_monitoring, DROP COLUMN consent_monitoring_at, DROP COLUMN consent_monitoring_source;
-- pg_trgm goes only when 0011 created it (it may have been there before, used by others).
DO $$
BEGIN
  IF obj_description((SELECT oid FROM pg_extension WHERE extname = 'pg_trgm'), 'pg_extension')
     = 'created by the hub''s migration 0011' THEN
    DROP EXTENSION pg_trgm;
  END IF;
END
$$;
