------------------------------------------------------------------------------------------
-- Tables. Every table is dumped with its rows (pg_extension_config_dump): pg_dump and
-- pg_restore keep every key working.
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
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE apikeys.tenants IS 'One row per tenant (organisation, workspace) with its switch and limits. DBAs may UPDATE it directly: triggers validate every change and record a tenant_updated event.';
COMMENT ON COLUMN apikeys.tenants.tenant_id IS 'The application''s id for the tenant (1 to 200 characters).';
COMMENT ON COLUMN apikeys.tenants.enabled IS 'The tenant-wide switch: when false no key of the tenant verifies (TENANT_DISABLED) and none can be created.';
COMMENT ON COLUMN apikeys.tenants.max_key_sets IS 'At most this many key sets, active or not (positive).';
COMMENT ON COLUMN apikeys.tenants.max_active_keys_per_set IS 'At most this many active, unexpired keys in one key set (positive).';
COMMENT ON COLUMN apikeys.tenants.max_keys_per_owner IS 'At most this many live (not revoked, not expired) keys per owner, 1 to 1000; NULL: no cap.';
COMMENT ON COLUMN apikeys.tenants.max_expiry IS 'The longest lifetime a new key may get; changing it never touches existing keys. NULL: none.';
COMMENT ON COLUMN apikeys.tenants.default_expiry IS 'Lifetime of a new key when none is given (max_expiry when this is NULL and max_expiry is set). NULL: keys never expire.';
COMMENT ON COLUMN apikeys.tenants.retention IS 'How long an expired or revoked key is kept before apikeys.purge() deletes it. NULL: kept.';
COMMENT ON COLUMN apikeys.tenants.event_retention IS 'How long events are kept before apikeys.purge() deletes them. NULL: kept.';
COMMENT ON COLUMN apikeys.tenants.key_prefix IS 'Prefix of the tenant''s new keys: 1 to 10 lower-case letters or digits.';

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
  CONSTRAINT key_sets_key_set_id_tenant_id_key UNIQUE (key_set_id, tenant_id)
);
CREATE INDEX key_sets_tenant_idx ON apikeys.key_sets (tenant_id);
COMMENT ON TABLE apikeys.key_sets IS 'Named groups of keys with a permission ceiling: a key in a set has the set''s permissions unless given a subset, and never one the set lacks.';
COMMENT ON COLUMN apikeys.key_sets.permissions IS 'The ceiling of the set''s keys; keys that inherit them follow every change.';
COMMENT ON COLUMN apikeys.key_sets.owner IS 'The user the set belongs to; NULL: a platform-level set.';

CREATE TABLE apikeys.keys (
  key_id bigint CONSTRAINT keys_pkey PRIMARY KEY,
  client_id text COLLATE "C" NOT NULL CONSTRAINT keys_client_id_key UNIQUE,
  tenant_id text COLLATE "C" NOT NULL
    CONSTRAINT keys_tenant_id_fkey REFERENCES apikeys.tenants (tenant_id) ON DELETE CASCADE,
  key_set_id bigint,
  owner text,
  name text NOT NULL,
  description text,
  permissions text[] NOT NULL DEFAULT '{}',
  permissions_inherited boolean NOT NULL DEFAULT false,
  status text NOT NULL DEFAULT 'active',
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  created_by text NOT NULL DEFAULT apikeys._actor(),
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_by text NOT NULL DEFAULT apikeys._actor(),
  revoked_at timestamptz,
  revoked_by text,
  revoked_reason text,
  last_used_at timestamptz,
  hint text NOT NULL,
  key_hash bytea NOT NULL,
  hash_scheme text NOT NULL,
  previous_hash bytea,
  previous_hash_scheme text,
  previous_expires_at timestamptz,
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

-- Append-only: every row is also announced with NOTIFY apikeys_events.
CREATE TABLE apikeys.events (
  event_id bigint CONSTRAINT events_pkey PRIMARY KEY DEFAULT apikeys._random_id(),
  at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  tenant_id text COLLATE "C" NOT NULL,
  key_id bigint,
  key_set_id bigint,
  actor text NOT NULL DEFAULT apikeys._actor(),
  action text NOT NULL,
  details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_tenant_at_idx ON apikeys.events (tenant_id, at DESC);
CREATE INDEX events_key_idx ON apikeys.events (key_id, at DESC) WHERE key_id IS NOT NULL;
COMMENT ON TABLE apikeys.events IS 'The append-only audit log: one row per change (created, updated, activated, deactivated, revoked, rolled, deleted, purged, tenant_created, tenant_updated, key_set_created, key_set_updated, key_set_deleted), also sent with NOTIFY apikeys_events. Only apikeys.purge() deletes rows, by the tenant''s event_retention.';
COMMENT ON COLUMN apikeys.events.actor IS 'Who made the change: apikeys.actor, or the session user.';
COMMENT ON COLUMN apikeys.events.details IS 'What changed (old and new values) or what was made; never a secret or a hash.';

-- The keys that sign access tokens. HS256: a secret of at least 256 random bits; EdDSA: a
-- raw Ed25519 private key (secret) and its public key. One non-retired key is current (it
-- signs new tokens); every non-retired key verifies the tokens it signed.
CREATE TABLE apikeys.signing_keys (
  kid text COLLATE "C" CONSTRAINT signing_keys_pkey PRIMARY KEY
    CONSTRAINT signing_keys_kid_check CHECK (kid OPERATOR(pg_catalog.~) '^[A-Za-z0-9_-]{1,64}$'),
  alg text NOT NULL CONSTRAINT signing_keys_alg_check CHECK (alg OPERATOR(pg_catalog.=) ANY (ARRAY['HS256', 'EdDSA'])),
  secret bytea NOT NULL,
  public_key bytea,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  retired_at timestamptz,
  is_current boolean NOT NULL DEFAULT false,
  CONSTRAINT signing_keys_material CHECK (
    (alg OPERATOR(pg_catalog.=) 'HS256' AND pg_catalog.length(secret) OPERATOR(pg_catalog.>=) 32 AND public_key IS NULL)
    OR (alg OPERATOR(pg_catalog.=) 'EdDSA' AND pg_catalog.length(secret) OPERATOR(pg_catalog.=) 32
        AND pg_catalog.length(public_key) OPERATOR(pg_catalog.=) 32)),
  CONSTRAINT signing_keys_current_not_retired CHECK (NOT (is_current AND retired_at IS NOT NULL))
);
CREATE UNIQUE INDEX signing_keys_one_current ON apikeys.signing_keys (is_current) WHERE is_current;
COMMENT ON TABLE apikeys.signing_keys IS 'The keys that sign access tokens (HS256 secrets, Ed25519 key pairs). One non-retired key is current and signs new tokens; every non-retired key verifies the tokens it signed; a retired key verifies nothing. Secrets are readable by the extension''s owner only.';
COMMENT ON COLUMN apikeys.signing_keys.kid IS 'The key id put in each token''s header: 1 to 64 of A-Z a-z 0-9 _ -.';
COMMENT ON COLUMN apikeys.signing_keys.alg IS 'HS256 (HMAC-SHA-256) or EdDSA (Ed25519).';
COMMENT ON COLUMN apikeys.signing_keys.secret IS 'The HS256 secret or the raw Ed25519 private key; never granted to anyone.';
COMMENT ON COLUMN apikeys.signing_keys.public_key IS 'The raw Ed25519 public key (EdDSA only), published by apikeys.jwks().';
COMMENT ON COLUMN apikeys.signing_keys.is_current IS 'True for the one key that signs new tokens.';

SELECT pg_catalog.pg_extension_config_dump('apikeys.tenants', '');
SELECT pg_catalog.pg_extension_config_dump('apikeys.key_sets', '');
SELECT pg_catalog.pg_extension_config_dump('apikeys.keys', '');
SELECT pg_catalog.pg_extension_config_dump('apikeys.events', '');
SELECT pg_catalog.pg_extension_config_dump('apikeys.signing_keys', '');
