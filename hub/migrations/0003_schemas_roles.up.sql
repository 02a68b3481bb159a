-- The data plan's layers as schemas, and a NOLOGIN group role per access layer. Login roles
-- (the hub's least-privilege pool, integration services, analysts' tools) are made members of
-- these groups by the operator; see README "Database roles". Only the migration owner (the role
-- running this file) owns objects, so only it can alter or drop them; nobody gets CREATE.
--
--   steinmetz_integration  writes raw (the ingest path): SELECT, INSERT; UPDATE of raw.edges
--   steinmetz_analyst      reads curated
--   steinmetz_app          reads serving; reads and writes erp, saga, ops; appends to audit
--   steinmetz_auditor      reads audit

-- raw exists since 0001 and ops is created by the migrator itself (it holds the ledger).
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS curated;
CREATE SCHEMA IF NOT EXISTS serving;
CREATE SCHEMA IF NOT EXISTS erp;
CREATE SCHEMA IF NOT EXISTS saga;
CREATE SCHEMA IF NOT EXISTS audit;

-- Role names are global to the cluster: another database of the same cluster (a second hub, a
-- restored copy) may have created them already.
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['steinmetz_integration', 'steinmetz_analyst', 'steinmetz_app', 'steinmetz_auditor'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
END
$$;

REVOKE ALL ON SCHEMA raw, staging, curated, serving, erp, saga, audit, ops FROM PUBLIC;

-- integration: the ingest path into raw
GRANT USAGE ON SCHEMA raw TO steinmetz_integration;
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA raw TO steinmetz_integration;
GRANT UPDATE ON raw.edges TO steinmetz_integration;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA raw TO steinmetz_integration;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw GRANT SELECT, INSERT ON TABLES TO steinmetz_integration;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw GRANT USAGE, SELECT ON SEQUENCES TO steinmetz_integration;
-- Day partitions are created on demand by the ingest: the function runs as its owner (the
-- migration role), with a fixed search_path, and only the ingest may call it.
ALTER FUNCTION raw.ensure_readings_partition(date) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE EXECUTE ON FUNCTION raw.ensure_readings_partition(date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION raw.ensure_readings_partition(date) TO steinmetz_integration;

-- analyst: reads curated
GRANT USAGE ON SCHEMA curated TO steinmetz_analyst;
GRANT SELECT ON ALL TABLES IN SCHEMA curated TO steinmetz_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA curated GRANT SELECT ON TABLES TO steinmetz_analyst;

-- app: reads serving, works in erp, saga and ops, appends to (and reads) audit
GRANT USAGE ON SCHEMA serving, erp, saga, ops, audit TO steinmetz_app;
GRANT SELECT ON ALL TABLES IN SCHEMA serving TO steinmetz_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA serving GRANT SELECT ON TABLES TO steinmetz_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA erp, saga, ops TO steinmetz_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA erp, saga, ops, audit TO steinmetz_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA erp, saga, ops GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO steinmetz_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA erp, saga, ops, audit GRANT USAGE, SELECT ON SEQUENCES TO steinmetz_app;
-- the migration ledger is the migration role's alone
REVOKE INSERT, UPDATE, DELETE ON ops.schema_migrations FROM steinmetz_app;
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA audit TO steinmetz_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT SELECT, INSERT ON TABLES TO steinmetz_app;

-- auditor: reads audit, nothing else
GRANT USAGE ON SCHEMA audit TO steinmetz_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA audit TO steinmetz_auditor;
ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT SELECT ON TABLES TO steinmetz_auditor;
