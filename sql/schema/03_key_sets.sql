------------------------------------------------------------------------------------------
-- Key sets
-- (every table is dumped with its rows, pg_extension_config_dump: pg_dump and pg_restore
-- keep every key working)
------------------------------------------------------------------------------------------

CREATE TABLE apikeys.key_sets (
  key_set_id bigint CONSTRAINT key_sets_pkey PRIMARY KEY DEFAULT apikeys._random_id(),
  tenant_id text COLLATE "C" NOT NULL
    CONSTRAINT key_sets_tenant_id_fkey REFERENCES apikeys.tenants (tenant_id) ON DELETE CASCADE,
  name text NOT NULL,
  description text,
  permissions text[] NOT NULL DEFAULT '{}',
  owner text,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  created_by text NOT NULL DEFAULT apikeys._actor(),
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_by text NOT NULL DEFAULT apikeys._actor(),
  CONSTRAINT key_sets_key_set_id_tenant_id_key UNIQUE (key_set_id, tenant_id),
  -- since 1.2
  allowed_ips cidr[],
  rate_limit integer,
  rate_window interval
);
CREATE INDEX key_sets_tenant_idx ON apikeys.key_sets (tenant_id);
COMMENT ON TABLE apikeys.key_sets IS 'Named groups of keys with a permission ceiling: a key in a set has the set''s permissions unless given a subset, and never one the set lacks.';
COMMENT ON COLUMN apikeys.key_sets.permissions IS 'The ceiling of the set''s keys; keys that inherit them follow every change.';
COMMENT ON COLUMN apikeys.key_sets.owner IS 'The user the set belongs to; NULL: a platform-level set.';

COMMENT ON COLUMN apikeys.key_sets.allowed_ips IS 'The networks the set''s keys may be used from, when a key has no list of its own (a key''s own list must lie within it); NULL: the tenant''s.';
COMMENT ON COLUMN apikeys.key_sets.rate_limit IS 'The rate limit of each of the set''s keys that has none of its own; NULL: the tenant''s key_rate_limit.';
COMMENT ON COLUMN apikeys.key_sets.rate_window IS 'The window of rate_limit.';
SELECT pg_catalog.pg_extension_config_dump('apikeys.key_sets', '');
