-- Installs the extension and the two roles that the README's grants describe.
CREATE EXTENSION apikeys;
SELECT extversion FROM pg_extension WHERE extname = 'apikeys';

-- The app role: verifies keys and reads the binding; nothing else.
CREATE ROLE apikeys_app LOGIN;
GRANT USAGE ON SCHEMA apikeys TO apikeys_app;
GRANT EXECUTE ON FUNCTION apikeys.verify(text, text[]), apikeys.authenticate(text, text[]),
  apikeys.current_key_id(), apikeys.current_tenant(), apikeys.current_owner(),
  apikeys.current_key_set_id(), apikeys.current_permissions(), apikeys.has_permission(text)
  TO apikeys_app;
-- Access tokens: exchange client credentials, verify tokens, publish the public keys.
GRANT EXECUTE ON FUNCTION apikeys.issue_token(text, text, interval), apikeys.verify_token(text, boolean),
  apikeys.authenticate_token(text), apikeys.jwks()
  TO apikeys_app;

-- The admin role: every management function, and reads of everything but the hashes.
CREATE ROLE apikeys_admin LOGIN;
GRANT USAGE ON SCHEMA apikeys TO apikeys_admin;
GRANT EXECUTE ON FUNCTION apikeys.create_tenant, apikeys.create_key_set, apikeys.create_key,
  apikeys.update_key, apikeys.update_key_set, apikeys.activate_key, apikeys.deactivate_key,
  apikeys.revoke_key, apikeys.revoke_keys, apikeys.delete_key, apikeys.delete_key_set,
  apikeys.roll_key, apikeys.purge, apikeys.search_keys, apikeys.verify, apikeys.current_actor()
  TO apikeys_admin;
GRANT SELECT, UPDATE ON apikeys.tenants TO apikeys_admin;
GRANT SELECT ON apikeys.key_sets, apikeys.events TO apikeys_admin;
GRANT SELECT (key_id, client_id, tenant_id, key_set_id, owner, name, description, permissions,
  permissions_inherited, status, expires_at, created_at, created_by, updated_at, updated_by,
  revoked_at, revoked_by, revoked_reason, last_used_at, hint) ON apikeys.keys TO apikeys_admin;
-- Signing keys of the access tokens: managed through the functions; secrets never readable.
GRANT EXECUTE ON FUNCTION apikeys.add_signing_key(text, boolean), apikeys.set_current_signing_key(text),
  apikeys.retire_signing_key(text), apikeys.jwks(), apikeys.verify_token(text, boolean)
  TO apikeys_admin;
GRANT SELECT (kid, alg, public_key, created_at, retired_at, is_current) ON apikeys.signing_keys TO apikeys_admin;

-- Test helper: runs a statement and shows its SQLSTATE, message and hint instead of
-- failing; random ids (long numbers) are shown as N so that outputs are stable.
CREATE FUNCTION public.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  hint text;
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RETURN regexp_replace(SQLSTATE || ': ' || SQLERRM || coalesce(' HINT: ' || nullif(hint, ''), ''),
                        '[0-9]{6,}', 'N', 'g');
END $$;
GRANT EXECUTE ON FUNCTION public.err(text) TO PUBLIC;
