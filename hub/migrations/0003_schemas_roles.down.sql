-- Undoes 0003: grants and default privileges, the function's definer rights, the schemas it
-- created (they must be empty by now: later migrations were rolled back first), and the group
-- roles, but only those that nothing else uses any more (privileges in any database of the
-- cluster, owned objects, members): a role another database or a login role still relies on stays.

ALTER DEFAULT PRIVILEGES IN SCHEMA audit REVOKE SELECT ON TABLES FROM steinmetz_auditor;
ALTER DEFAULT PRIVILEGES IN SCHEMA audit REVOKE SELECT, INSERT ON TABLES FROM steinmetz_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA erp, saga, ops, audit REVOKE USAGE, SELECT ON SEQUENCES FROM steinmetz_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA erp, saga, ops REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM steinmetz_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA serving REVOKE SELECT ON TABLES FROM steinmetz_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA curated REVOKE SELECT ON TABLES FROM steinmetz_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw REVOKE USAGE, SELECT ON SEQUENCES FROM steinmetz_integration;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw REVOKE SELECT, INSERT ON TABLES FROM steinmetz_integration;

REVOKE ALL ON ALL TABLES IN SCHEMA raw, staging, curated, serving, erp, saga, audit, ops
  FROM steinmetz_integration, steinmetz_analyst, steinmetz_app, steinmetz_auditor;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA raw, staging, curated, serving, erp, saga, audit, ops
  FROM steinmetz_integration, steinmetz_analyst, steinmetz_app, steinmetz_auditor;
REVOKE ALL ON SCHEMA raw, staging, curated, serving, erp, saga, audit, ops
  FROM steinmetz_integration, steinmetz_analyst, steinmetz_app, steinmetz_auditor;

REVOKE EXECUTE ON FUNCTION raw.ensure_readings_partition(date) FROM steinmetz_integration;
GRANT EXECUTE ON FUNCTION raw.ensure_readings_partition(date) TO PUBLIC;
ALTER FUNCTION raw.ensure_readings_partition(date) SECURITY INVOKER RESET search_path;

DROP SCHEMA audit;
DROP SCHEMA saga;
DROP SCHEMA erp;
DROP SCHEMA serving;
DROP SCHEMA curated;
DROP SCHEMA staging;

DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['steinmetz_integration', 'steinmetz_analyst', 'steinmetz_app', 'steinmetz_auditor'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      CONTINUE;
    END IF;
    IF EXISTS (
      SELECT FROM pg_shdepend d JOIN pg_roles g ON d.refobjid = g.oid
      WHERE g.rolname = r AND d.refclassid = 'pg_authid'::regclass
    ) OR EXISTS (
      SELECT FROM pg_auth_members m JOIN pg_roles g ON m.roleid = g.oid WHERE g.rolname = r
    ) THEN
      RAISE NOTICE 'role % is still in use (privileges elsewhere or members): kept', r;
    ELSE
      EXECUTE format('DROP ROLE %I', r);
    END IF;
  END LOOP;
END
$$;
