------------------------------------------------------------------------------------------
-- Tenants
-- (every table is dumped with its rows, pg_extension_config_dump: pg_dump and pg_restore
-- keep every key working)
------------------------------------------------------------------------------------------

-- Ids compare as bytes (COLLATE "C"): verify's probes cost no strcoll().
CREATE TABLE apikeys.tenants (
  tenant_id text COLLATE "C" CONSTRAINT tenants_pkey PRIMARY KEY,
  enabled boolean NOT NULL DEFAULT true,
  max_key_sets integer NOT NULL DEFAULT 5,
  max_active_keys_per_set integer NOT NULL DEFAULT 5,
  max_keys_per_owner integer,
  max_expiry interval,
  default_expiry interval,
  retention interval,
  event_retention interval,
  key_prefix text NOT NULL DEFAULT 'ak',
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  -- since 1.2
  allowed_ips cidr[],
  rate_limit integer,
  rate_window interval,
  key_rate_limit integer,
  key_rate_window interval,
  expiry_reminders interval[] NOT NULL DEFAULT '{7 days,1 day}',
  usage_retention interval NOT NULL DEFAULT '90 days'
);
COMMENT ON TABLE apikeys.tenants IS 'One row per tenant (organisation, workspace) with its switch and limits. DBAs may UPDATE it directly: triggers validate every change and record a tenant_updated event.';
COMMENT ON COLUMN apikeys.tenants.tenant_id IS 'The application''s id for the tenant (1 to 200 characters).';
COMMENT ON COLUMN apikeys.tenants.enabled IS 'The tenant-wide switch: when false no key of the tenant verifies (TENANT_DISABLED) and none can be created.';
COMMENT ON COLUMN apikeys.tenants.max_key_sets IS 'At most this many key sets, active or not (positive).';
COMMENT ON COLUMN apikeys.tenants.max_active_keys_per_set IS 'At most this many active, unexpired keys in one key set (positive).';
COMMENT ON COLUMN apikeys.tenants.max_keys_per_owner IS 'At most this many live (not revoked, not expired) keys per owner, 1 to 1000; NULL: no cap.';
COMMENT ON COLUMN apikeys.tenants.max_expiry IS 'The longest lifetime a new key may get; changing it never touches existing keys. NULL: none.';
COMMENT ON COLUMN apikeys.tenants.default_expiry IS 'Lifetime of a new key when none is given (max_expiry when this is NULL and max_expiry is set). NULL: keys never expire.';
COMMENT ON COLUMN apikeys.tenants.retention IS 'How long an expired or revoked key is kept before apikeys.purge() deletes it, at least 1 day. NULL: kept.';
COMMENT ON COLUMN apikeys.tenants.event_retention IS 'How long the tenant''s events are kept before apikeys.purge() deletes them, at least 1 day. NULL: kept.';
COMMENT ON COLUMN apikeys.tenants.key_prefix IS 'Prefix of the tenant''s new keys: 1 to 10 lower-case letters or digits.';

COMMENT ON COLUMN apikeys.tenants.allowed_ips IS 'The networks the tenant''s keys may be used from, when neither the key nor its set has a list of its own; NULL: any address.';
COMMENT ON COLUMN apikeys.tenants.rate_limit IS 'At most this many VALID answers per rate_window for all the tenant''s keys together (on each server); NULL: no limit.';
COMMENT ON COLUMN apikeys.tenants.rate_window IS 'The window of rate_limit.';
COMMENT ON COLUMN apikeys.tenants.key_rate_limit IS 'The rate limit of each key that has none of its own and whose set has none; NULL: none.';
COMMENT ON COLUMN apikeys.tenants.key_rate_window IS 'The window of key_rate_limit.';
COMMENT ON COLUMN apikeys.tenants.expiry_reminders IS 'How long before a key expires apikeys.send_expiry_reminders() writes an expiring event, once per threshold.';
COMMENT ON COLUMN apikeys.tenants.usage_retention IS 'How long apikeys.usage keeps the hourly counts of the tenant''s keys before apikeys.purge() deletes them, at least 1 day.';
SELECT pg_catalog.pg_extension_config_dump('apikeys.tenants', '');
