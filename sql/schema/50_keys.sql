------------------------------------------------------------------------------------------
-- Keys: state rules, expiry policy, limits, events
------------------------------------------------------------------------------------------

-- The two key triggers are C and run no SQL: they read, lock and write the extension's
-- tables directly (as the foreign-key triggers do), so they need no SECURITY DEFINER.
CREATE FUNCTION apikeys._keys_check() RETURNS trigger
  AS 'MODULE_PATHNAME', 'apikeys_keys_check' LANGUAGE C;
COMMENT ON FUNCTION apikeys._keys_check() IS 'Trigger of apikeys.keys: who may make the change (for roles with apikeys.enforce_members); validates name, status, client id, hash, permissions and allowed_ips (within the set''s) and the rate limit, applies the tenant''s default_expiry and max_expiry, keeps revocation irreversible and the id, client id, tenant and created_* columns fixed, sets updated_* and revoked_*; locks the key set, then the tenant, where the write counts against a limit; keeps owner_disabled as the owner''s membership says.';
CREATE TRIGGER keys_before_check BEFORE INSERT OR UPDATE OR DELETE ON apikeys.keys
  FOR EACH ROW EXECUTE FUNCTION apikeys._keys_check();

-- Fires after keys_before_check, which checks the client id's form (triggers of one timing
-- fire in name order). Not ENABLE ALWAYS: pg_restore and logical replication bring the id
-- with the row.
CREATE FUNCTION apikeys._keys_id() RETURNS trigger
  AS 'MODULE_PATHNAME', 'apikeys_keys_id' LANGUAGE C;
COMMENT ON FUNCTION apikeys._keys_id() IS 'Trigger of apikeys.keys: fills a new key''s key_id from its client id (apikeys._key_id_of), so verify finds the key with one probe of the bigint primary key; refuses an explicit key_id that differs (22023).';
CREATE TRIGGER keys_before_id BEFORE INSERT ON apikeys.keys
  FOR EACH ROW EXECUTE FUNCTION apikeys._keys_id();

-- Limit checks run after the row is written, under a lock on the parent rows (the key set,
-- then the tenant: always in that order), counting with the latest snapshot, so that two
-- racing transactions can never both pass.
CREATE FUNCTION apikeys._keys_apply() RETURNS trigger
  AS 'MODULE_PATHNAME', 'apikeys_keys_apply' LANGUAGE C;
COMMENT ON FUNCTION apikeys._keys_apply() IS 'Trigger of apikeys.keys: the disabled-tenant rule, max_active_keys_per_set and max_keys_per_owner (under locks on the set, then the tenant row, counting every committed row), and the key events (created, updated, activated, deactivated, revoked, rolled, deleted, purged).';
CREATE TRIGGER keys_after_apply AFTER INSERT OR UPDATE OR DELETE ON apikeys.keys
  FOR EACH ROW EXECUTE FUNCTION apikeys._keys_apply();
