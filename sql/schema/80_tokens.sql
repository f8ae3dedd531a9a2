------------------------------------------------------------------------------------------
-- Access tokens: client credentials -> signed JWT (signing keys, issue, verify)
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys._signing_keys_current() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE apikeys.signing_keys s SET is_current = false WHERE s.is_current AND s.kid <> NEW.kid;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apikeys._signing_keys_current() IS 'Trigger of apikeys.signing_keys: making a key current un-marks the previous one.';
CREATE TRIGGER signing_keys_before_current BEFORE INSERT OR UPDATE OF is_current ON apikeys.signing_keys
  FOR EACH ROW WHEN (NEW.is_current) EXECUTE FUNCTION apikeys._signing_keys_current();
ALTER TABLE apikeys.signing_keys ENABLE ALWAYS TRIGGER signing_keys_before_current;

-- Every change invalidates the signing keys that backends cache for verify_token (at
-- commit, in every backend, and on hot standbys through the commit record).
-- Per row, because the apply worker of logical replication fires no statement trigger; a
-- TRUNCATE has no rows, so it has the statement trigger.
CREATE TRIGGER signing_keys_after_invalidate_row AFTER INSERT OR UPDATE OR DELETE ON apikeys.signing_keys
  FOR EACH ROW EXECUTE FUNCTION apikeys._invalidate_cache();
ALTER TABLE apikeys.signing_keys ENABLE ALWAYS TRIGGER signing_keys_after_invalidate_row;
CREATE TRIGGER signing_keys_after_invalidate AFTER TRUNCATE ON apikeys.signing_keys
  FOR EACH STATEMENT EXECUTE FUNCTION apikeys._invalidate_cache();
ALTER TABLE apikeys.signing_keys ENABLE ALWAYS TRIGGER signing_keys_after_invalidate;

CREATE FUNCTION apikeys._signing_secrets_check() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  a text;
BEGIN
  -- Messages name the kid only: a message never shows a secret, nor does a failing row.
  SELECT k.alg INTO a FROM apikeys.signing_keys k WHERE k.kid = NEW.kid;
  IF NEW.secret IS NULL OR (a = 'HS256' AND length(NEW.secret) < 32) OR (a = 'EdDSA' AND length(NEW.secret) <> 32) THEN
    RAISE EXCEPTION 'the secret of signing key "%" must be % bytes', NEW.kid,
      CASE WHEN a = 'EdDSA' THEN 'an Ed25519 private key of 32' ELSE 'at least 32 random' END
      USING ERRCODE = 'check_violation', HINT = 'Add keys with apikeys.add_signing_key().';
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.kid <> OLD.kid THEN
    RAISE EXCEPTION 'the secret of signing key "%" cannot change its kid', OLD.kid
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apikeys._signing_secrets_check() IS 'Trigger of apikeys.signing_secrets: a secret of the length its algorithm needs, validated without a constraint (whose failure would echo the row).';
CREATE TRIGGER signing_secrets_before_check BEFORE INSERT OR UPDATE ON apikeys.signing_secrets
  FOR EACH ROW EXECUTE FUNCTION apikeys._signing_secrets_check();
-- Per row, because the apply worker of logical replication fires no statement trigger; a
-- TRUNCATE has no rows, so it has the statement trigger.
CREATE TRIGGER signing_secrets_after_invalidate_row AFTER INSERT OR UPDATE OR DELETE ON apikeys.signing_secrets
  FOR EACH ROW EXECUTE FUNCTION apikeys._invalidate_cache();
ALTER TABLE apikeys.signing_secrets ENABLE ALWAYS TRIGGER signing_secrets_after_invalidate_row;
CREATE TRIGGER signing_secrets_after_invalidate AFTER TRUNCATE ON apikeys.signing_secrets
  FOR EACH STATEMENT EXECUTE FUNCTION apikeys._invalidate_cache();
ALTER TABLE apikeys.signing_secrets ENABLE ALWAYS TRIGGER signing_secrets_after_invalidate;

CREATE FUNCTION apikeys._insert_signing_key(alg text, make_current boolean) RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_insert_signing_key' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys._insert_signing_key(text, boolean) IS 'Makes a signing key from the CSPRNG (a random kid; a 256-bit HS256 secret or an Ed25519 key pair) and writes its rows from C, so that no statement, plan or parameter carries the secret; returns the kid.';

CREATE FUNCTION apikeys.add_signing_key(alg text DEFAULT 'HS256', make_current boolean DEFAULT true)
  RETURNS text LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  previous text;
  new_kid text;
BEGIN
  IF add_signing_key.alg IS NULL OR add_signing_key.alg NOT IN ('HS256', 'EdDSA') THEN
    RAISE EXCEPTION 'signing algorithm must be HS256 or EdDSA (got %)',
      coalesce('"' || add_signing_key.alg || '"', 'NULL') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Key management is serialised; verify_token's reads are not blocked.
  LOCK TABLE apikeys.signing_keys IN SHARE ROW EXCLUSIVE MODE;
  SELECT s.kid INTO previous FROM apikeys.signing_keys s WHERE s.is_current;
  new_kid := apikeys._insert_signing_key(add_signing_key.alg, coalesce(add_signing_key.make_current, true));
  PERFORM apikeys._record_event(NULL, NULL, NULL, 'signing_key_added',
    pg_catalog.jsonb_build_object('kid', new_kid, 'alg', add_signing_key.alg,
      'current', coalesce(add_signing_key.make_current, true),
      'previous', CASE WHEN coalesce(add_signing_key.make_current, true) THEN previous END));
  RETURN new_kid;
END $$;
COMMENT ON FUNCTION apikeys.add_signing_key(text, boolean) IS 'Adds a signing key (HS256: 256 random bits; EdDSA: an Ed25519 key pair) and returns its kid. With make_current it signs every token issued from now on; the previous current key keeps verifying its tokens until it is retired. Records a signing_key_added event (no tenant).';

CREATE FUNCTION apikeys._require_signing_key(kid text) RETURNS apikeys.signing_keys
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k apikeys.signing_keys;
BEGIN
  LOCK TABLE apikeys.signing_keys IN SHARE ROW EXCLUSIVE MODE;
  SELECT * INTO k FROM apikeys.signing_keys s WHERE s.kid = _require_signing_key.kid;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'signing key "%" does not exist', coalesce(_require_signing_key.kid, 'NULL')
      USING ERRCODE = 'no_data_found';
  END IF;
  RETURN k;
END $$;
COMMENT ON FUNCTION apikeys._require_signing_key(text) IS 'The signing key''s row, with the table locked against concurrent key management, or P0002 if there is no such key.';

CREATE FUNCTION apikeys.set_current_signing_key(kid text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k apikeys.signing_keys;
  previous text;
BEGIN
  k := apikeys._require_signing_key(set_current_signing_key.kid);
  IF k.retired_at IS NOT NULL THEN
    RAISE EXCEPTION 'signing key "%" is retired and cannot become current', k.kid
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Add a new key with apikeys.add_signing_key().';
  END IF;
  IF NOT k.is_current THEN
    SELECT s.kid INTO previous FROM apikeys.signing_keys s WHERE s.is_current;
    UPDATE apikeys.signing_keys s SET is_current = true WHERE s.kid = k.kid;
    PERFORM apikeys._record_event(NULL, NULL, NULL, 'signing_key_made_current',
      pg_catalog.jsonb_build_object('kid', k.kid, 'alg', k.alg, 'previous', previous));
  END IF;
END $$;
COMMENT ON FUNCTION apikeys.set_current_signing_key(text) IS 'Makes a non-retired signing key the one that signs new tokens (55000 for a retired key, P0002 for an unknown one) and records a signing_key_made_current event (no tenant) naming the previous one.';

CREATE FUNCTION apikeys.retire_signing_key(kid text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k apikeys.signing_keys;
BEGIN
  k := apikeys._require_signing_key(retire_signing_key.kid);
  IF k.is_current THEN
    RAISE EXCEPTION 'signing key "%" is the current key and cannot be retired', k.kid
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Make another key current first (apikeys.add_signing_key() or apikeys.set_current_signing_key()).';
  END IF;
  IF k.retired_at IS NOT NULL THEN
    RAISE EXCEPTION 'signing key "%" is already retired', k.kid USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  UPDATE apikeys.signing_keys s SET retired_at = now() WHERE s.kid = k.kid;
  PERFORM apikeys._record_event(NULL, NULL, NULL, 'signing_key_retired',
    pg_catalog.jsonb_build_object('kid', k.kid, 'alg', k.alg));
END $$;
COMMENT ON FUNCTION apikeys.retire_signing_key(text) IS 'Retires a signing key, irreversibly: the tokens it signed answer UNKNOWN_KEY from the next transaction on, in every session and on standbys. The current key cannot be retired (55000). Records a signing_key_retired event (no tenant).';

CREATE FUNCTION apikeys.jwks() RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object('keys', coalesce(jsonb_agg(jsonb_build_object(
           'kty', 'OKP', 'crv', 'Ed25519', 'alg', 'EdDSA', 'use', 'sig', 'kid', k.kid,
           'x', rtrim(translate(encode(k.public_key, 'base64'), E'+/\n', '-_'), '='))
           ORDER BY k.created_at, k.kid), '[]'::jsonb))
    FROM apikeys.signing_keys k
   WHERE k.alg = 'EdDSA' AND k.retired_at IS NULL
$$;
COMMENT ON FUNCTION apikeys.jwks() IS 'The public keys of the non-retired EdDSA signing keys as a JWK Set (RFC 7517, OKP keys of RFC 8037), for verifiers outside the database; HS256 keys are secret and never listed.';

CREATE FUNCTION apikeys.issue_token(client_id text, client_secret text, ttl interval DEFAULT '8 hours',
    client_ip inet DEFAULT NULL)
  RETURNS text AS 'MODULE_PATHNAME', 'apikeys_issue_token' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys.issue_token(text, text, interval, inet) IS 'Exchanges client credentials (the key''s client id, and the whole key as the client secret) for an access token (a JWT signed with the current signing key), valid for ttl, at most 24 hours and never past the key''s expiry. Refuses a key that verify would not call VALID with 28000 (client_ip is checked against the key''s allowlist, which the token then carries); its errors never hold the secret and hide the statement from the server log.';

CREATE FUNCTION apikeys.verify_token(token text, check_revocation boolean DEFAULT false, client_ip inet DEFAULT NULL)
  RETURNS apikeys.verification AS 'MODULE_PATHNAME', 'apikeys_verify_token' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys.verify_token(text, boolean, inet) IS 'Checks an access token without reading any table (signature with the kid''s key, pinned algorithm, exp, nbf and iat, issuer, the allowlist it carries against client_ip) and answers like verify; with check_revocation also the key''s current state. Never raises for a bad token.';

CREATE FUNCTION apikeys.authenticate_token(token text, client_ip inet DEFAULT NULL) RETURNS apikeys.verification
  AS 'MODULE_PATHNAME', 'apikeys_authenticate_token' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys.authenticate_token(text, inet) IS 'Verifies a token like verify_token and, on VALID, binds its key to the current transaction for the RLS helpers, as authenticate does.';
