-- Failed attempts at a credential (logins, password changes, enrollment codes), counted by every
-- hub process on the database: behind a load balancer, each process refuses a client (or an
-- e-mail address) that failed too often at any of them. The key is stored as its SHA-256, not as
-- the address or e-mail itself; rows older than an hour are purged.
CREATE TABLE auth.failed_attempts (
  -- What is limited, e.g. 'login:address', 'login:email', 'enroll:address'.
  scope text NOT NULL,
  key_hash bytea NOT NULL,
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX failed_attempts_key_at ON auth.failed_attempts (scope, key_hash, at);
CREATE INDEX failed_attempts_at ON auth.failed_attempts (at);
GRANT SELECT, INSERT, DELETE ON auth.failed_attempts TO steinmetz_app;
