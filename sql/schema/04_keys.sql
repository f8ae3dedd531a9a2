------------------------------------------------------------------------------------------
-- Keys
-- (every table is dumped with its rows, pg_extension_config_dump: pg_dump and pg_restore
-- keep every key working)
------------------------------------------------------------------------------------------

-- Columns in the order verify reads them: what it needs for every key first (the state and
-- the hash), then the details of a valid key, then the grace hash of a roll; the columns it
-- never reads last. (Rewritten in this order by the update to 1.2.)
CREATE TABLE apikeys.keys (
  key_id bigint CONSTRAINT keys_pkey PRIMARY KEY,
  owner_disabled boolean NOT NULL DEFAULT false,
  client_id text COLLATE "C" NOT NULL CONSTRAINT keys_client_id_key UNIQUE,
  tenant_id text COLLATE "C" NOT NULL
    CONSTRAINT keys_tenant_id_fkey REFERENCES apikeys.tenants (tenant_id) ON DELETE CASCADE,
  status text NOT NULL DEFAULT 'active',
  key_hash bytea NOT NULL,
  hash_scheme text NOT NULL,
  permissions text[] NOT NULL DEFAULT '{}',
  expires_at timestamptz,
  key_set_id bigint,
  owner text,
  allowed_ips cidr[],
  rate_limit integer,
  rate_window interval,
  previous_hash bytea,
  previous_hash_scheme text,
  previous_expires_at timestamptz,
  name text NOT NULL,
  description text,
  permissions_inherited boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  created_by text NOT NULL DEFAULT apikeys._actor(),
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_by text NOT NULL DEFAULT apikeys._actor(),
  revoked_at timestamptz,
  revoked_by text,
  revoked_reason text,
  last_used_at timestamptz,
  hint text NOT NULL,
  CONSTRAINT keys_key_set_id_tenant_id_fkey FOREIGN KEY (key_set_id, tenant_id)
    REFERENCES apikeys.key_sets (key_set_id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX keys_tenant_idx ON apikeys.keys (tenant_id, owner);
CREATE INDEX keys_key_set_idx ON apikeys.keys (key_set_id) WHERE key_set_id IS NOT NULL;
COMMENT ON TABLE apikeys.keys IS 'API keys. Only a hash of each key is stored; the plaintext is returned once, by create_key or roll_key. DBAs may INSERT, UPDATE and DELETE with plain SQL: the same triggers enforce every rule.';
COMMENT ON COLUMN apikeys.keys.key_id IS 'The id the client id determines (its 16 base62 digits as a number, mod 2^63 - 1, plus 1); filled in by the keys_before_id trigger. Keys made by version 1.0 keep random ids.';
COMMENT ON COLUMN apikeys.keys.client_id IS 'The public part of the key: <prefix>_<16 base62>. Every key starts with it.';
COMMENT ON COLUMN apikeys.keys.owner IS 'The user the key belongs to; NULL: a platform key.';
COMMENT ON COLUMN apikeys.keys.permissions IS 'What the key may do: "*", or names joined by ":" (optionally ending in ":*"). Within the set''s permissions for a key in a set.';
COMMENT ON COLUMN apikeys.keys.permissions_inherited IS 'True while the key has its set''s permissions and follows changes to them.';
COMMENT ON COLUMN apikeys.keys.status IS 'active, inactive (reversible) or revoked (irreversible). Expired is derived: expires_at <= now().';
COMMENT ON COLUMN apikeys.keys.expires_at IS 'When the key stops verifying (EXPIRED); NULL: never.';
COMMENT ON COLUMN apikeys.keys.last_used_at IS 'When the key last verified.';
COMMENT ON COLUMN apikeys.keys.hint IS 'The key''s last 4 characters (checksum characters), for display.';
COMMENT ON COLUMN apikeys.keys.key_hash IS 'SHA-256 of the key, or HMAC-SHA-256 with the server''s pepper; never granted to anyone.';
COMMENT ON COLUMN apikeys.keys.hash_scheme IS 'How key_hash was made: sha256 or hmac-sha256.';
COMMENT ON COLUMN apikeys.keys.previous_hash IS 'The hash of the secret a roll replaced, which keeps verifying until previous_expires_at.';

COMMENT ON COLUMN apikeys.keys.owner_disabled IS 'True while the owner is a member of the tenant without API access: the key answers OWNER_DISABLED. Kept by the members'' triggers.';
COMMENT ON COLUMN apikeys.keys.allowed_ips IS 'The networks the key may be used from (verify''s client_ip), within its set''s; NULL: the set''s, then the tenant''s.';
COMMENT ON COLUMN apikeys.keys.rate_limit IS 'At most this many VALID answers per rate_window (on each server); NULL: the set''s, then the tenant''s key_rate_limit.';
COMMENT ON COLUMN apikeys.keys.rate_window IS 'The window of rate_limit.';
SELECT pg_catalog.pg_extension_config_dump('apikeys.keys', '');
