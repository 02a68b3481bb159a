-- The first ERP entity: customers (versioned for optimistic locking, audited by trigger).
CREATE SCHEMA IF NOT EXISTS erp;

CREATE TABLE erp.customers (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  email text,
  phone text,
  street text,
  postal_code text,
  city text,
  country text NOT NULL DEFAULT 'DE' CHECK (country ~ '^[A-Z]{2}$'),
  vat_id text,
  notes text,
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customers_created_at_id ON erp.customers (created_at, id);

CREATE TRIGGER customers_audit AFTER INSERT OR UPDATE OR DELETE ON erp.customers
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();
