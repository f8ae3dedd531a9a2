------------------------------------------------------------------------------------------
-- Signing secrets (since 1.2)
-- (dumped with its rows, pg_extension_config_dump: pg_dump and pg_restore keep every token
-- verifying)
------------------------------------------------------------------------------------------

-- The secret of each signing key, apart from the rest: written and read only by the
-- extension's C code (no SQL statement, plan or parameter ever carries one), granted to no
-- role, hidden from pg_read_all_data by row-level security without a policy, and without a
-- constraint that could echo a row into a message (apikeys._signing_secrets_check validates
-- without naming the value).
CREATE TABLE apikeys.signing_secrets (
  kid text COLLATE "C" CONSTRAINT signing_secrets_pkey PRIMARY KEY
    CONSTRAINT signing_secrets_kid_fkey REFERENCES apikeys.signing_keys (kid) ON DELETE CASCADE,
  secret bytea
);
ALTER TABLE apikeys.signing_secrets ENABLE ROW LEVEL SECURITY;
COMMENT ON TABLE apikeys.signing_secrets IS 'The secret of each signing key: the HS256 secret (at least 256 bits) or the raw Ed25519 private key. Written and read by the extension''s C code only, granted to no role, row-level security without a policy (pg_read_all_data sees no row); the extension''s owner and superusers (pg_dump) read it.';
COMMENT ON COLUMN apikeys.signing_secrets.secret IS 'The HS256 secret or the raw Ed25519 private key.';
SELECT pg_catalog.pg_extension_config_dump('apikeys.signing_secrets', '');
