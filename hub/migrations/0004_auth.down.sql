REVOKE ALL ON ALL TABLES IN SCHEMA auth FROM steinmetz_app;
REVOKE ALL ON SCHEMA auth FROM steinmetz_app;
DROP TABLE auth.api_tokens;
DROP TABLE auth.sessions;
DROP TABLE auth.users;
DROP SCHEMA auth;
