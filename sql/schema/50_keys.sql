------------------------------------------------------------------------------------------
-- Keys: state rules, expiry policy, limits, events
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys._keys_check() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t apikeys.tenants;
  s apikeys.key_sets;
  bad text;
BEGIN
  IF NEW.name IS NULL OR btrim(NEW.name) = '' THEN
    RAISE EXCEPTION 'key name must not be empty' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NEW.status NOT IN ('active', 'inactive', 'revoked') THEN
    RAISE EXCEPTION 'key status must be active, inactive or revoked (got "%")', NEW.status
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF OLD.status = 'revoked' AND NEW.status <> 'revoked' THEN
      RAISE EXCEPTION 'key % ("%") is revoked and cannot become %', OLD.key_id, OLD.name, NEW.status
        USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Revocation is irreversible: create a new key.';
    END IF;
    IF NEW.key_id <> OLD.key_id OR NEW.tenant_id <> OLD.tenant_id OR NEW.client_id <> OLD.client_id THEN
      RAISE EXCEPTION 'key % cannot change its id, client id or tenant', OLD.key_id
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    NEW.created_at := OLD.created_at;
    NEW.created_by := OLD.created_by;
    NEW.updated_at := now();
    NEW.updated_by := apikeys._actor();
    IF NEW.status = 'revoked' AND OLD.status <> 'revoked' THEN
      NEW.revoked_at := now();
      NEW.revoked_by := apikeys._actor();
    ELSIF OLD.status = 'revoked' THEN
      NEW.revoked_at := OLD.revoked_at;
      NEW.revoked_by := OLD.revoked_by;
    END IF;
  ELSE
    IF NEW.status = 'revoked' THEN
      NEW.revoked_at := coalesce(NEW.revoked_at, now());
      NEW.revoked_by := coalesce(NEW.revoked_by, apikeys._actor());
    END IF;
  END IF;
  IF NOT apikeys._valid_client_id(NEW.client_id) THEN
    RAISE EXCEPTION 'client id of key "%" is not of the form <prefix>_<16 base62>', NEW.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NEW.hash_scheme NOT IN ('sha256', 'hmac-sha256') OR length(NEW.key_hash) <> 32 THEN
    RAISE EXCEPTION 'key "%" has no valid hash', NEW.name USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NEW.key_set_id IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.key_set_id IS DISTINCT FROM OLD.key_set_id
                                     OR NEW.permissions IS DISTINCT FROM OLD.permissions) THEN
    SELECT * INTO s FROM apikeys.key_sets WHERE key_set_id = NEW.key_set_id;
    IF FOUND AND NEW.permissions_inherited THEN
      NEW.permissions := s.permissions;
    END IF;
  END IF;
  IF TG_OP = 'INSERT' OR NEW.permissions IS DISTINCT FROM OLD.permissions THEN
    bad := apikeys._invalid_permission(NEW.permissions);
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'invalid permission "%" for key "%"', bad, NEW.name
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'A permission is "*" or names joined by ":" (lower-case letters, digits, "_", ".", "-"), optionally ending in ":*".';
    END IF;
  END IF;
  IF s.key_set_id IS NOT NULL THEN
    bad := apikeys._uncovered_permission(NEW.permissions, s.permissions);
    IF bad IS NOT NULL THEN
      RAISE EXCEPTION 'key "%" cannot hold permission "%": key set % ("%") does not grant it',
        NEW.name, bad, s.key_set_id, s.name
        USING ERRCODE = 'check_violation', HINT = 'Give the key a subset of its set''s permissions.';
    END IF;
  END IF;
  IF TG_OP = 'INSERT' OR NEW.expires_at IS DISTINCT FROM OLD.expires_at THEN
    SELECT * INTO t FROM apikeys.tenants WHERE tenant_id = NEW.tenant_id;
    IF TG_OP = 'INSERT' AND NEW.expires_at IS NULL THEN
      NEW.expires_at := now() + coalesce(t.default_expiry, t.max_expiry);
    END IF;
    IF NEW.expires_at <= now() AND TG_OP = 'INSERT' THEN
      RAISE EXCEPTION 'key "%" would expire at % which is not in the future', NEW.name, NEW.expires_at
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- max_expiry bounds a new key, and any later extension of a key's life; shortening an
    -- existing key's life is always allowed (a lowered max_expiry never touches old keys).
    IF t.max_expiry IS NOT NULL AND (NEW.expires_at IS NULL OR NEW.expires_at > now() + t.max_expiry)
       AND (TG_OP = 'INSERT' OR NEW.expires_at IS NULL OR NEW.expires_at > OLD.expires_at) THEN
      RAISE EXCEPTION 'key "%" of tenant "%" would live % (limit %)', NEW.name, t.tenant_id,
        CASE WHEN isfinite(NEW.expires_at) THEN (NEW.expires_at - now())::text ELSE 'forever' END, t.max_expiry
        USING ERRCODE = 'check_violation', HINT = 'Give a shorter expiry, or raise the tenant''s max_expiry.';
    END IF;
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apikeys._keys_check() IS 'Trigger of apikeys.keys: validates name, status, client id, hash and permissions (within the set''s), applies the tenant''s default_expiry and max_expiry, keeps revocation irreversible and the id, client id, tenant and created_* columns fixed, sets updated_* and revoked_*.';
CREATE TRIGGER keys_before_check BEFORE INSERT OR UPDATE ON apikeys.keys
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
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t apikeys.tenants;
  s apikeys.key_sets;
  n bigint;
  counted boolean;
  was_counted boolean;
  live boolean;
  was_live boolean;
  owner_check boolean;
  action text;
  details jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM apikeys._record_event(OLD.tenant_id, OLD.key_id, OLD.key_set_id,
      CASE WHEN apikeys._event_purge_allowed() THEN 'purged' ELSE 'deleted' END,
      jsonb_build_object('name', OLD.name, 'client_id', OLD.client_id, 'status', OLD.status), OLD.owner);
    RETURN NULL;
  END IF;

  -- A row counts against its set's limit while active and unexpired, against its owner's
  -- while live. Check only when this write makes it count (creation, activation, a move to
  -- another set or owner, an expiry pushed back into the future).
  counted := NEW.key_set_id IS NOT NULL AND apikeys._counts_in_set(NEW.status, NEW.expires_at);
  was_counted := TG_OP = 'UPDATE' AND apikeys._counts_in_set(OLD.status, OLD.expires_at)
                 AND OLD.key_set_id IS NOT DISTINCT FROM NEW.key_set_id;
  live := apikeys._live(NEW.status, NEW.expires_at);
  was_live := TG_OP = 'UPDATE' AND apikeys._live(OLD.status, OLD.expires_at)
              AND OLD.owner IS NOT DISTINCT FROM NEW.owner;
  owner_check := live AND NOT was_live AND NEW.owner IS NOT NULL;

  -- Locks: the key set, then the tenant (the key row itself is already ours).
  IF counted AND NOT was_counted THEN
    SELECT * INTO s FROM apikeys.key_sets WHERE key_set_id = NEW.key_set_id FOR NO KEY UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'key set % does not exist', NEW.key_set_id USING ERRCODE = 'no_data_found';
    END IF;
  END IF;
  IF TG_OP = 'INSERT' OR s.key_set_id IS NOT NULL OR owner_check THEN
    SELECT * INTO t FROM apikeys.tenants WHERE tenant_id = NEW.tenant_id FOR NO KEY UPDATE;
  END IF;

  IF TG_OP = 'INSERT' AND NOT t.enabled THEN
    RAISE EXCEPTION 'tenant "%" is disabled: no key can be created', t.tenant_id
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Enable the tenant first.';
  END IF;
  IF s.key_set_id IS NOT NULL THEN
    n := apikeys._count_active_keys(NEW.key_set_id);
    IF n > t.max_active_keys_per_set THEN
      RAISE EXCEPTION 'key set % ("%") of tenant "%" already has % active keys (limit %)',
        s.key_set_id, s.name, t.tenant_id, n - 1, t.max_active_keys_per_set
        USING ERRCODE = 'check_violation',
              HINT = 'Deactivate or revoke an active key of the set, or raise the tenant''s max_active_keys_per_set.';
    END IF;
  END IF;
  IF owner_check AND t.max_keys_per_owner IS NOT NULL THEN
    n := apikeys._count_live_keys(NEW.tenant_id, NEW.owner);
    IF n > t.max_keys_per_owner THEN
      RAISE EXCEPTION 'owner "%" of tenant "%" already has % live keys (limit %)',
        NEW.owner, t.tenant_id, n - 1, t.max_keys_per_owner
        USING ERRCODE = 'check_violation',
              HINT = 'Revoke one of the owner''s keys, or raise the tenant''s max_keys_per_owner.';
    END IF;
  END IF;

  IF TG_OP = 'INSERT' THEN
    PERFORM apikeys._record_event(NEW.tenant_id, NEW.key_id, NEW.key_set_id, 'created',
      jsonb_build_object('name', NEW.name, 'client_id', NEW.client_id, 'owner', NEW.owner,
        'status', NEW.status, 'permissions', NEW.permissions, 'expires_at', NEW.expires_at), NEW.owner);
    RETURN NULL;
  END IF;
  details := apikeys._changes(to_jsonb(OLD), to_jsonb(NEW));
  action := CASE
    WHEN NEW.status = 'revoked' AND OLD.status <> 'revoked' THEN 'revoked'
    WHEN NEW.key_hash <> OLD.key_hash THEN 'rolled'
    WHEN NEW.status = 'active' AND OLD.status = 'inactive' THEN 'activated'
    WHEN NEW.status = 'inactive' AND OLD.status = 'active' THEN 'deactivated'
    WHEN details <> '{}' THEN 'updated' END;
  IF action IS NOT NULL THEN
    PERFORM apikeys._record_event(NEW.tenant_id, NEW.key_id, NEW.key_set_id, action, details, NEW.owner);
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION apikeys._keys_apply() IS 'Trigger of apikeys.keys: the disabled-tenant rule, max_active_keys_per_set and max_keys_per_owner (under locks on the set, then the tenant row, counting every committed row), and the key events (created, updated, activated, deactivated, revoked, rolled, deleted, purged).';
CREATE TRIGGER keys_after_apply AFTER INSERT OR UPDATE OR DELETE ON apikeys.keys
  FOR EACH ROW EXECUTE FUNCTION apikeys._keys_apply();
