-- ERP operations, part 1: customers as a CRM record (private/business, number, GDPR consents),
-- their contacts, sites (PV installations) with their gateways and devices, and projects with a
-- status workflow. Every table has id, version, created_at, updated_at and the audit trigger;
-- lists sort by (column, id) and search by trigram indexes (pg_trgm, a trusted extension). Names
-- sort as a German reader expects (ICU "de-x-icu": case and umlauts at the letter, not after Z).
-- pg_trgm is created here unless the database has it already; only then does the down file drop it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm') THEN
    CREATE EXTENSION pg_trgm;
    COMMENT ON EXTENSION pg_trgm IS 'created by the hub''s migration 0011';
  END IF;
END
$$;

-- Customers --------------------------------------------------------------------------------------
CREATE SEQUENCE erp.customer_number_seq START 10001;
ALTER TABLE erp.customers
  ADD COLUMN number text NOT NULL DEFAULT 'K-' || nextval('erp.customer_number_seq') UNIQUE,
  ADD COLUMN kind text NOT NULL DEFAULT 'business' CHECK (kind IN ('private', 'business')),
  -- GDPR consents: each with the time it was given or withdrawn (set by trigger) and its source
  ADD COLUMN consent_newsletter boolean NOT NULL DEFAULT false,
  ADD COLUMN consent_newsletter_at timestamptz,
  ADD COLUMN consent_newsletter_source text CHECK (length(consent_newsletter_source) <= 200),
  ADD COLUMN consent_monitoring boolean NOT NULL DEFAULT false,
  ADD COLUMN consent_monitoring_at timestamptz,
  ADD COLUMN consent_monitoring_source text CHECK (length(consent_monitoring_source) <= 200),
  ADD CONSTRAINT customers_consent_newsletter_source CHECK (NOT consent_newsletter OR consent_newsletter_source IS NOT NULL),
  ADD CONSTRAINT customers_consent_monitoring_source CHECK (NOT consent_monitoring OR consent_monitoring_source IS NOT NULL);
ALTER SEQUENCE erp.customer_number_seq OWNED BY erp.customers.number;
ALTER TABLE erp.customers ALTER COLUMN name TYPE text COLLATE "de-x-icu";

-- A consent's time is the database's, when the flag is set or changes.
CREATE FUNCTION erp.stamp_consents() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW.consent_newsletter IS DISTINCT FROM OLD.consent_newsletter THEN
    NEW.consent_newsletter_at := CASE WHEN TG_OP = 'INSERT' AND NOT NEW.consent_newsletter THEN NULL ELSE now() END;
  END IF;
  IF TG_OP = 'INSERT' OR NEW.consent_monitoring IS DISTINCT FROM OLD.consent_monitoring THEN
    NEW.consent_monitoring_at := CASE WHEN TG_OP = 'INSERT' AND NOT NEW.consent_monitoring THEN NULL ELSE now() END;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER customers_consents BEFORE INSERT OR UPDATE ON erp.customers
  FOR EACH ROW EXECUTE FUNCTION erp.stamp_consents();

CREATE INDEX customers_name_id ON erp.customers (name, id);
CREATE INDEX customers_updated_at_id ON erp.customers (updated_at, id);
CREATE INDEX customers_kind ON erp.customers (kind);
CREATE INDEX customers_search_name ON erp.customers USING gin (name gin_trgm_ops);
CREATE INDEX customers_search_email ON erp.customers USING gin (email gin_trgm_ops);
CREATE INDEX customers_search_city ON erp.customers USING gin (city gin_trgm_ops);
CREATE INDEX customers_search_number ON erp.customers USING gin (number gin_trgm_ops);

-- Contacts ---------------------------------------------------------------------------------------
CREATE TABLE erp.contacts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id uuid NOT NULL REFERENCES erp.customers ON DELETE CASCADE,
  first_name text CHECK (length(first_name) <= 100),
  last_name text COLLATE "de-x-icu" NOT NULL CHECK (length(last_name) BETWEEN 1 AND 100),
  position text CHECK (length(position) <= 100),
  email text CHECK (length(email) <= 254),
  phone text CHECK (length(phone) <= 50),
  mobile text CHECK (length(mobile) <= 50),
  is_primary boolean NOT NULL DEFAULT false,
  notes text CHECK (length(notes) <= 4000),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_customer ON erp.contacts (customer_id);
CREATE INDEX contacts_last_name_id ON erp.contacts (last_name, id);
CREATE INDEX contacts_created_at_id ON erp.contacts (created_at, id);
CREATE INDEX contacts_updated_at_id ON erp.contacts (updated_at, id);
CREATE INDEX contacts_search_last_name ON erp.contacts USING gin (last_name gin_trgm_ops);
CREATE INDEX contacts_search_email ON erp.contacts USING gin (email gin_trgm_ops);
-- one primary contact per customer
CREATE UNIQUE INDEX contacts_one_primary ON erp.contacts (customer_id) WHERE is_primary;
CREATE TRIGGER contacts_audit AFTER INSERT OR UPDATE OR DELETE ON erp.contacts
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- Sites ------------------------------------------------------------------------------------------
CREATE TABLE erp.sites (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  customer_id uuid NOT NULL REFERENCES erp.customers,
  name text COLLATE "de-x-icu" NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  street text CHECK (length(street) <= 200),
  postal_code text CHECK (length(postal_code) <= 20),
  city text CHECK (length(city) <= 100),
  country text NOT NULL DEFAULT 'DE' CHECK (country ~ '^[A-Z]{2}$'),
  kwp numeric(10, 3) CHECK (kwp >= 0),
  module_count integer CHECK (module_count >= 0),
  string_count integer CHECK (string_count >= 0),
  modules text CHECK (length(modules) <= 1000),
  commissioning_date date,
  grid_operator text CHECK (length(grid_operator) <= 200),
  mastr_number text CHECK (mastr_number ~ '^SEE[0-9]{12}$') UNIQUE,
  notes text CHECK (length(notes) <= 4000),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sites_customer ON erp.sites (customer_id);
CREATE INDEX sites_name_id ON erp.sites (name, id);
CREATE INDEX sites_created_at_id ON erp.sites (created_at, id);
CREATE INDEX sites_updated_at_id ON erp.sites (updated_at, id);
CREATE INDEX sites_search_name ON erp.sites USING gin (name gin_trgm_ops);
CREATE INDEX sites_search_city ON erp.sites USING gin (city gin_trgm_ops);
CREATE TRIGGER sites_audit AFTER INSERT OR UPDATE OR DELETE ON erp.sites
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- The edge gateways serving a site (an edge serves one site).
CREATE TABLE erp.gateways (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site_id uuid NOT NULL REFERENCES erp.sites ON DELETE CASCADE,
  edge_id text NOT NULL UNIQUE CHECK (edge_id ~ '^[A-Za-z0-9._-]{1,64}$'),
  name text CHECK (length(name) <= 200),
  notes text CHECK (length(notes) <= 4000),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX gateways_site ON erp.gateways (site_id);
CREATE INDEX gateways_created_at_id ON erp.gateways (created_at, id);
CREATE INDEX gateways_updated_at_id ON erp.gateways (updated_at, id);
CREATE INDEX gateways_edge_id_id ON erp.gateways (edge_id, id);
CREATE TRIGGER gateways_audit AFTER INSERT OR UPDATE OR DELETE ON erp.gateways
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- The devices installed at a site; edge_id/device_id link one to its telemetry.
CREATE TABLE erp.devices (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  site_id uuid NOT NULL REFERENCES erp.sites ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('inverter', 'meter', 'battery', 'wallbox', 'heat_pump', 'other')),
  manufacturer text CHECK (length(manufacturer) <= 100),
  model text CHECK (length(model) <= 100),
  serial_number text CHECK (length(serial_number) BETWEEN 1 AND 100) UNIQUE,
  firmware text CHECK (length(firmware) <= 100),
  warranty_end date,
  edge_id text CHECK (edge_id ~ '^[A-Za-z0-9._-]{1,64}$'),
  device_id text CHECK (length(device_id) BETWEEN 1 AND 100),
  notes text CHECK (length(notes) <= 4000),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT devices_link_complete CHECK ((edge_id IS NULL) = (device_id IS NULL)),
  CONSTRAINT devices_one_per_telemetry_device UNIQUE (edge_id, device_id)
);
CREATE INDEX devices_site ON erp.devices (site_id);
CREATE INDEX devices_kind ON erp.devices (kind);
CREATE INDEX devices_created_at_id ON erp.devices (created_at, id);
CREATE INDEX devices_updated_at_id ON erp.devices (updated_at, id);
CREATE INDEX devices_search_serial ON erp.devices USING gin (serial_number gin_trgm_ops);
CREATE INDEX devices_search_model ON erp.devices USING gin (model gin_trgm_ops);
CREATE TRIGGER devices_audit AFTER INSERT OR UPDATE OR DELETE ON erp.devices
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();

-- Document numbers with at least 5 digits (lpad alone would cut a sixth one off).
CREATE FUNCTION erp.number_text(n bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT lpad(n::text, greatest(5, length(n::text)), '0') $$;

-- Projects ---------------------------------------------------------------------------------------
CREATE SEQUENCE erp.project_number_seq;
CREATE TABLE erp.projects (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  number text NOT NULL UNIQUE DEFAULT 'P-' || erp.number_text(nextval('erp.project_number_seq')),
  customer_id uuid NOT NULL REFERENCES erp.customers,
  site_id uuid REFERENCES erp.sites,
  title text COLLATE "de-x-icu" NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
  kind text NOT NULL CHECK (kind IN ('installation', 'extension', 'maintenance')),
  status text NOT NULL DEFAULT 'lead' CHECK (status IN (
    'lead', 'quoted', 'ordered', 'scheduled', 'installed', 'commissioned', 'invoiced', 'closed', 'cancelled', 'rework')),
  budget_cents bigint CHECK (budget_cents >= 0),
  planned_hours numeric(8, 2) CHECK (planned_hours >= 0),
  start_date date,
  due_date date,
  notes text CHECK (length(notes) <= 4000),
  version integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT projects_dates CHECK (due_date IS NULL OR start_date IS NULL OR due_date >= start_date)
);
ALTER SEQUENCE erp.project_number_seq OWNED BY erp.projects.number;
CREATE INDEX projects_customer ON erp.projects (customer_id);
CREATE INDEX projects_site ON erp.projects (site_id);
CREATE INDEX projects_status_id ON erp.projects (status, id);
CREATE INDEX projects_number_id ON erp.projects (number, id);
CREATE INDEX projects_title_id ON erp.projects (title, id);
CREATE INDEX projects_created_at_id ON erp.projects (created_at, id);
CREATE INDEX projects_updated_at_id ON erp.projects (updated_at, id);
CREATE INDEX projects_search_title ON erp.projects USING gin (title gin_trgm_ops);
CREATE INDEX projects_search_number ON erp.projects USING gin (number gin_trgm_ops);
CREATE TRIGGER projects_audit AFTER INSERT OR UPDATE OR DELETE ON erp.projects
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();
