DROP TABLE auth.failed_attempts;
