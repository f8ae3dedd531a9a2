------------------------------------------------------------------------------------------
-- Usage (since 1.2): what the usage writer moved out of shared memory
-- (dumped with its rows, pg_extension_config_dump)
------------------------------------------------------------------------------------------

-- One row per key, UTC hour and code; the usage writer adds to count (an upsert). No
-- foreign key: the usage of a deleted key stays until purge() removes it by its tenant's
-- usage_retention.
CREATE TABLE apikeys.usage (
  key_id bigint NOT NULL,
  tenant_id text COLLATE "C" NOT NULL,
  hour timestamptz NOT NULL,
  code text NOT NULL,
  count bigint NOT NULL,
  CONSTRAINT usage_pkey PRIMARY KEY (key_id, hour, code)
);
CREATE INDEX usage_tenant_hour_idx ON apikeys.usage (tenant_id, hour);
COMMENT ON TABLE apikeys.usage IS 'Answers of verify, authenticate and the token functions per key, UTC hour and code (every code but MALFORMED and NOT_FOUND), as the usage writer flushed them from shared memory; apikeys.key_usage() and apikeys.top_keys() add what is not flushed yet. purge() deletes rows older than the tenant''s usage_retention.';
COMMENT ON COLUMN apikeys.usage.hour IS 'The start of the UTC hour the answers were flushed in.';
COMMENT ON COLUMN apikeys.usage.code IS 'The verification code answered (VALID, REVOKED, INACTIVE, EXPIRED, TENANT_DISABLED, OWNER_DISABLED, FORBIDDEN, INSUFFICIENT_PERMISSIONS, RATE_LIMITED).';
COMMENT ON COLUMN apikeys.usage.count IS 'How many times.';
SELECT pg_catalog.pg_extension_config_dump('apikeys.usage', '');
