------------------------------------------------------------------------------------------
-- Verification and the transaction's binding (C; they write nothing, so they work in
-- read-only transactions and on hot standbys)
------------------------------------------------------------------------------------------

-- VOLATILE since 1.2: an answer counts against the key's rate limit and usage.
CREATE FUNCTION apikeys.verify(key text, required text[] DEFAULT NULL, client_ip inet DEFAULT NULL)
  RETURNS apikeys.verification AS 'MODULE_PATHNAME', 'apikeys_verify' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys.verify(text, text[], inet) IS 'Checks a presented key and answers (valid, code, key_id, tenant_id, owner, key_set_id, permissions, expires_at); only VALID carries the details. Codes in order: MALFORMED, NOT_FOUND, REVOKED, INACTIVE, EXPIRED, TENANT_DISABLED, OWNER_DISABLED (a member without API access owns it), FORBIDDEN (client_ip outside the key''s allowlist, or none given when one applies), INSUFFICIENT_PERMISSIONS (a required permission not covered), RATE_LIMITED. Never raises for a bad key; writes nothing.';

CREATE FUNCTION apikeys.authenticate(key text, required text[] DEFAULT NULL, client_ip inet DEFAULT NULL)
  RETURNS apikeys.verification AS 'MODULE_PATHNAME', 'apikeys_authenticate' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys.authenticate(text, text[], inet) IS 'Verifies like apikeys.verify and, on VALID, binds the key to the current transaction for the RLS helpers (in backend memory: no setting can forge it; it ends with the transaction). Any other answer clears the binding.';

CREATE FUNCTION apikeys.current_key_id() RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_current_key_id' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION apikeys.current_key_id() IS 'RLS helper: the id of the key bound in this transaction by authenticate or authenticate_token, or NULL.';
CREATE FUNCTION apikeys.current_tenant() RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_current_tenant' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION apikeys.current_tenant() IS 'RLS helper: the tenant of the key bound in this transaction, or NULL. Use as tenant_id = (SELECT apikeys.current_tenant()).';
CREATE FUNCTION apikeys.current_owner() RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_current_owner' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION apikeys.current_owner() IS 'RLS helper: the owner of the key bound in this transaction, or NULL (also for a platform key).';
CREATE FUNCTION apikeys.current_key_set_id() RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_current_key_set_id' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION apikeys.current_key_set_id() IS 'RLS helper: the key set of the key bound in this transaction, or NULL.';
CREATE FUNCTION apikeys.current_permissions() RETURNS text[]
  AS 'MODULE_PATHNAME', 'apikeys_current_permissions' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION apikeys.current_permissions() IS 'RLS helper: the permissions of the key bound in this transaction, or NULL.';
CREATE FUNCTION apikeys.has_permission(permission text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'apikeys_has_permission' LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION apikeys.has_permission(text) IS 'RLS helper: true if a key is bound in this transaction and one of its permissions covers the given one (exact, "res:*", "*"); false otherwise. A constant argument is answered once per binding.';
