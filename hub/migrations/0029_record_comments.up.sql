-- Comments on any record of a declared entity (the web app shows them in the record's timeline,
-- beside its audit trail): append-only, each one audited.
CREATE TABLE erp.comments (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  entity text NOT NULL CHECK (entity ~ '^[a-z][a-z0-9-]{0,63}$'),
  record_id uuid NOT NULL,
  author_id text NOT NULL CHECK (length(author_id) BETWEEN 1 AND 200),
  author_name text CHECK (length(author_name) <= 200),
  body text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_record ON erp.comments (entity, record_id, created_at);
CREATE TRIGGER comments_audit AFTER INSERT OR UPDATE OR DELETE ON erp.comments
  FOR EACH ROW EXECUTE FUNCTION audit.log_change();
CREATE FUNCTION erp.refuse_comment_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'erp.comments is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER comments_append_only BEFORE UPDATE OR DELETE ON erp.comments
  FOR EACH ROW EXECUTE FUNCTION erp.refuse_comment_change();
REVOKE UPDATE, DELETE, TRUNCATE ON erp.comments FROM steinmetz_app;
GRANT SELECT, INSERT ON erp.comments TO steinmetz_app;
