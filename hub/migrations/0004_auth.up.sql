-- Users, sessions and API tokens of the hub's HTTP API, in their own schema `auth` so that only
-- the application role reaches password hashes (not analysts, not auditors through `ops`).
-- Secrets are never stored: passwords as scrypt hashes, session and API tokens as SHA-256.
CREATE SCHEMA auth;

CREATE TABLE auth.users (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- stored lower-case: one account per address whatever the spelling at login
  email text NOT NULL UNIQUE CHECK (email = lower(email) AND position('@' IN email) > 1),
  display_name text NOT NULL DEFAULT '',
  -- platform/principal.ts ROLES
  roles text[] NOT NULL CHECK (
    cardinality(roles) > 0
    AND roles <@ ARRAY['admin', 'office', 'project_manager', 'technician', 'accountant', 'analyst', 'auditor']
  ),
  -- scrypt$N$r$p$salt$hash (base64url), see auth/password.ts
  password_hash text NOT NULL,
  disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  version integer NOT NULL DEFAULT 1
);

CREATE TABLE auth.sessions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  token_hash bytea NOT NULL UNIQUE,
  -- returned at login; required as x-csrf-token on unsafe cookie-authenticated requests
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL,
  ip text,
  user_agent text
);
CREATE INDEX sessions_user_id ON auth.sessions (user_id);
CREATE INDEX sessions_expires_at ON auth.sessions (expires_at);

CREATE TABLE auth.api_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
  name text NOT NULL,
  -- a subset of the issuing user's roles; at use, intersected with the user's current roles
  roles text[] NOT NULL CHECK (
    cardinality(roles) > 0
    AND roles <@ ARRAY['admin', 'office', 'project_manager', 'technician', 'accountant', 'analyst', 'auditor']
  ),
  token_hash bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL,
  -- null: does not expire
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz
);
CREATE INDEX api_tokens_user_id ON auth.api_tokens (user_id);

REVOKE ALL ON SCHEMA auth FROM PUBLIC;
GRANT USAGE ON SCHEMA auth TO steinmetz_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA auth TO steinmetz_app;
