------------------------------------------------------------------------------------------
-- Helpers in C: permissions, keys, limit counts, cache invalidation
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys._invalid_permission(perms text[]) RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_invalid_permission' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys._invalid_permission(text[]) IS 'The first element of perms that breaks the permission grammar ("NULL" for a NULL element or array), or NULL if every element is valid.';

CREATE FUNCTION apikeys._uncovered_permission(perms text[], ceiling text[]) RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_uncovered_permission' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys._uncovered_permission(text[], text[]) IS 'The first element of perms that no element of ceiling covers, or NULL.';

CREATE FUNCTION apikeys.permission_covers(granted text[], required text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'apikeys_permission_covers' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikeys.permission_covers(text[], text) IS 'True if one of the granted permissions covers the required one: the same name, "res:*" for every "res:..." name, or "*" for everything.';

CREATE FUNCTION apikeys._generate_key(prefix text, client_id text DEFAULT NULL,
    OUT client_id text, OUT key text, OUT hint text, OUT key_hash bytea, OUT hash_scheme text)
  AS 'MODULE_PATHNAME', 'apikeys_generate_key' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys._generate_key(text, text) IS 'A new key for a prefix, or a new secret for an existing client id: client id, plaintext, hint, hash and hash scheme (HMAC-SHA-256 when a pepper is configured).';

CREATE FUNCTION apikeys._key_id_of(client_id text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_key_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikeys._key_id_of(text) IS 'The key id a client id determines: its 16 base62 digits as a number, mod 2^63 - 1, plus 1 (22023 for a malformed client id).';

CREATE FUNCTION apikeys._count_key_sets(tenant_id text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_count_key_sets' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys._count_key_sets(text) IS 'Key sets of a tenant, counted under the latest snapshot (every committed row), for a limit check made after the tenant row is locked.';
CREATE FUNCTION apikeys._count_active_keys(key_set_id bigint) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_count_active_keys' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys._count_active_keys(bigint) IS 'Active, unexpired keys of a key set, counted under the latest snapshot, for a limit check made after the set row is locked.';
CREATE FUNCTION apikeys._count_live_keys(tenant_id text, owner text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_count_live_keys' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys._count_live_keys(text, text) IS 'Live (not revoked, not expired) keys of an owner, counted under the latest snapshot, for a limit check made after the tenant row is locked.';

CREATE FUNCTION apikeys._invalidate_cache() RETURNS trigger
  AS 'MODULE_PATHNAME', 'apikeys_relation_changed' LANGUAGE C;
COMMENT ON FUNCTION apikeys._invalidate_cache() IS 'Trigger (per row, which the apply worker of logical replication fires too, and per statement for TRUNCATE) of a table that backends cache (tenants and key_sets for verify, signing_keys and signing_secrets for verify_token): at commit every backend, and every hot standby, drops its cached rows.';

CREATE FUNCTION apikeys._valid_key_prefix(prefix text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'apikeys_valid_key_prefix' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys._valid_key_prefix(text) IS 'True if prefix is 1 to 10 lower-case letters or digits (false for NULL).';
CREATE FUNCTION apikeys._valid_client_id(client_id text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'apikeys_valid_client_id' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys._valid_client_id(text) IS 'True if client_id is <prefix>_<16 base62> (false for NULL).';

CREATE FUNCTION apikeys._live(status text, expires_at timestamptz) RETURNS boolean
  AS 'MODULE_PATHNAME', 'apikeys_key_live' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys._live(text, timestamptz) IS 'True if a key with this status and expiry is live: not revoked and not expired (expires_at <= now() is expired). What max_keys_per_owner counts.';
CREATE FUNCTION apikeys._counts_in_set(status text, expires_at timestamptz) RETURNS boolean
  AS 'MODULE_PATHNAME', 'apikeys_key_counts_in_set' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys._counts_in_set(text, timestamptz) IS 'True if a key with this status and expiry is active and not expired: what max_active_keys_per_set counts.';

CREATE FUNCTION apikeys._allow_list(what text, name text, ips cidr[]) RETURNS cidr[]
  LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF cardinality(ips) = 0 THEN
    RETURN NULL;  -- an empty list is none
  END IF;
  IF pg_catalog.array_position(ips, NULL) IS NOT NULL THEN
    RAISE EXCEPTION 'allowed_ips of % "%" must not contain NULL', what, name
      USING ERRCODE = 'null_value_not_allowed', HINT = 'Remove the list with allowed_ips => ''{}'' instead.';
  END IF;
  RETURN ips;
END $$;
COMMENT ON FUNCTION apikeys._allow_list(text, text, cidr[]) IS 'An allowlist as stored: NULL for an empty one; 22004 for a NULL network (what and name name the tenant or key set in the message).';

CREATE FUNCTION apikeys._check_rate_limit(what text, name text, rate_limit integer, rate_window interval) RETURNS void
  AS 'MODULE_PATHNAME', 'apikeys_check_rate_limit' LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys._check_rate_limit(text, text, integer, interval) IS 'Validates a rate limit: both or neither of limit and window, positive (22023); a limit needs the library in shared_preload_libraries (55000).';
