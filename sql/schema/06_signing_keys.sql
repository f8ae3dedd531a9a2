------------------------------------------------------------------------------------------
-- Signing keys of the access tokens
-- (every table is dumped with its rows, pg_extension_config_dump: pg_dump and pg_restore
-- keep every key working)
------------------------------------------------------------------------------------------

-- The keys that sign access tokens: their public part (HS256 has none; EdDSA a raw Ed25519
-- public key). The secrets are in apikeys.signing_secrets. One non-retired key is current
-- (it signs new tokens); every non-retired key verifies the tokens it signed.
CREATE TABLE apikeys.signing_keys (
  kid text COLLATE "C" CONSTRAINT signing_keys_pkey PRIMARY KEY
    CONSTRAINT signing_keys_kid_check CHECK (kid OPERATOR(pg_catalog.~) '^[A-Za-z0-9_-]{1,64}$'),
  alg text NOT NULL CONSTRAINT signing_keys_alg_check CHECK (alg OPERATOR(pg_catalog.=) ANY (ARRAY['HS256', 'EdDSA'])),
  public_key bytea,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  retired_at timestamptz,
  is_current boolean NOT NULL DEFAULT false,
  CONSTRAINT signing_keys_material CHECK (
    (alg OPERATOR(pg_catalog.=) 'HS256' AND public_key IS NULL)
    OR (alg OPERATOR(pg_catalog.=) 'EdDSA' AND pg_catalog.length(public_key) OPERATOR(pg_catalog.=) 32)),
  CONSTRAINT signing_keys_current_not_retired CHECK (NOT (is_current AND retired_at IS NOT NULL))
);
CREATE UNIQUE INDEX signing_keys_one_current ON apikeys.signing_keys (is_current) WHERE is_current;
COMMENT ON TABLE apikeys.signing_keys IS 'The keys that sign access tokens (HS256, Ed25519), without their secrets (apikeys.signing_secrets). One non-retired key is current and signs new tokens; every non-retired key verifies the tokens it signed; a retired key verifies nothing.';
COMMENT ON COLUMN apikeys.signing_keys.kid IS 'The key id put in each token''s header: 1 to 64 of A-Z a-z 0-9 _ -.';
COMMENT ON COLUMN apikeys.signing_keys.alg IS 'HS256 (HMAC-SHA-256) or EdDSA (Ed25519).';
COMMENT ON COLUMN apikeys.signing_keys.public_key IS 'The raw Ed25519 public key (EdDSA only), published by apikeys.jwks().';
COMMENT ON COLUMN apikeys.signing_keys.is_current IS 'True for the one key that signs new tokens.';

SELECT pg_catalog.pg_extension_config_dump('apikeys.signing_keys', '');
