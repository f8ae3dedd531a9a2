------------------------------------------------------------------------------------------
-- Key sets: validation, the per-tenant limit, the delete rule, permission propagation
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys._key_sets_check() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  bad text;
  k record;
BEGIN
  PERFORM apikeys._enforce(CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END, 'key_sets', NULL,
    CASE TG_OP WHEN 'INSERT' THEN 'create key sets' WHEN 'UPDATE' THEN 'change key sets' ELSE 'delete key sets' END);
  IF TG_OP = 'DELETE' THEN
    IF apikeys._count_active_keys(OLD.key_set_id) > 0 THEN
      RAISE EXCEPTION 'key set % ("%") of tenant "%" still has active keys (%)', OLD.key_set_id, OLD.name,
        OLD.tenant_id, apikeys._count_active_keys(OLD.key_set_id)
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'Deactivate or revoke every key of the set before deleting it.';
    END IF;
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF NEW.key_set_id <> OLD.key_set_id OR NEW.tenant_id <> OLD.tenant_id THEN
      RAISE EXCEPTION 'key set % cannot change its id or tenant', OLD.key_set_id
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    NEW.created_at := OLD.created_at;
    NEW.created_by := OLD.created_by;
    NEW.updated_at := now();
    NEW.updated_by := apikeys._actor();
  END IF;
  IF NEW.name IS NULL OR btrim(NEW.name) = '' THEN
    RAISE EXCEPTION 'key set name must not be empty' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  bad := apikeys._invalid_permission(NEW.permissions);
  IF bad IS NOT NULL THEN
    RAISE EXCEPTION 'invalid permission "%" for key set "%"', bad, NEW.name
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'A permission is "*" or names joined by ":" (lower-case letters, digits, "_", ".", "-"), optionally ending in ":*".';
  END IF;
  NEW.allowed_ips := apikeys._allow_list('key set', NEW.name, NEW.allowed_ips);
  IF TG_OP = 'INSERT' OR (NEW.rate_limit, NEW.rate_window) IS DISTINCT FROM (OLD.rate_limit, OLD.rate_window) THEN
    PERFORM apikeys._check_rate_limit('key set', NEW.name, NEW.rate_limit, NEW.rate_window);
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.allowed_ips IS NOT NULL AND NEW.allowed_ips IS DISTINCT FROM OLD.allowed_ips THEN
    -- Keys with networks of their own must stay within the new list.
    SELECT key_id, name, a AS net INTO k
      FROM apikeys.keys, unnest(allowed_ips) a
     WHERE key_set_id = NEW.key_set_id AND allowed_ips IS NOT NULL AND NOT a OPERATOR(pg_catalog.<<=) ANY (NEW.allowed_ips)
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'key % ("%") is allowed % that the new allowed_ips of key set % ("%") do not allow',
        k.key_id, k.name, k.net, NEW.key_set_id, NEW.name
        USING ERRCODE = 'check_violation', HINT = 'Narrow the key''s allowed_ips first with apikeys.update_key().';
    END IF;
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.permissions IS DISTINCT FROM OLD.permissions THEN
    -- Keys with permissions of their own must stay within the new ceiling.
    SELECT key_id, apikeys._uncovered_permission(permissions, NEW.permissions) AS perm INTO k
      FROM apikeys.keys
     WHERE key_set_id = NEW.key_set_id AND NOT permissions_inherited
       AND apikeys._uncovered_permission(permissions, NEW.permissions) IS NOT NULL
     LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'key % holds permission "%" that the new permissions of key set % ("%") lack',
        k.key_id, k.perm, NEW.key_set_id, NEW.name
        USING ERRCODE = 'check_violation', HINT = 'Narrow the key''s permissions first with apikeys.update_key().';
    END IF;
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apikeys._key_sets_check() IS 'Trigger of apikeys.key_sets: who may make the change (for roles with apikeys.enforce_members: an admin with API access); validates name, permissions and rate limit, keeps the ceiling above the keys'' own permissions and the allowlist around the keys'' own networks, keeps the id, tenant and created_* columns, and refuses to delete a set that still has active keys.';
CREATE TRIGGER key_sets_before_check BEFORE INSERT OR UPDATE OR DELETE ON apikeys.key_sets
  FOR EACH ROW EXECUTE FUNCTION apikeys._key_sets_check();

CREATE FUNCTION apikeys._key_sets_apply() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t apikeys.tenants;
  n bigint;
  changes jsonb;
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- The tenant row is the lock every key-set count of the tenant goes through.
    SELECT * INTO t FROM apikeys.tenants WHERE tenant_id = NEW.tenant_id FOR NO KEY UPDATE;
    n := apikeys._count_key_sets(NEW.tenant_id);
    IF n > t.max_key_sets THEN
      RAISE EXCEPTION 'tenant "%" already has % key sets (limit %)', t.tenant_id, n - 1, t.max_key_sets
        USING ERRCODE = 'check_violation',
              HINT = 'Delete a key set, or raise the tenant''s max_key_sets.';
    END IF;
    PERFORM apikeys._record_event(NEW.tenant_id, NULL, NEW.key_set_id, 'key_set_created',
      jsonb_build_object('name', NEW.name, 'permissions', NEW.permissions, 'owner', NEW.owner));
  ELSIF TG_OP = 'UPDATE' THEN
    IF NEW.permissions IS DISTINCT FROM OLD.permissions THEN
      -- Part of the change already allowed: the keys that inherit follow.
      PERFORM apikeys._internal_write(true);
      UPDATE apikeys.keys SET permissions = NEW.permissions
       WHERE key_set_id = NEW.key_set_id AND permissions_inherited
         AND permissions IS DISTINCT FROM NEW.permissions;
      PERFORM apikeys._internal_write(false);
    END IF;
    changes := apikeys._changes(to_jsonb(OLD), to_jsonb(NEW));
    IF changes <> '{}' THEN
      PERFORM apikeys._record_event(NEW.tenant_id, NULL, NEW.key_set_id, 'key_set_updated', changes);
    END IF;
  ELSE
    PERFORM apikeys._record_event(OLD.tenant_id, NULL, OLD.key_set_id, 'key_set_deleted',
      jsonb_build_object('name', OLD.name));
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION apikeys._key_sets_apply() IS 'Trigger of apikeys.key_sets: the max_key_sets limit (under a lock on the tenant row), permission changes passed on to the keys that inherit them, and the key_set_* events.';
CREATE TRIGGER key_sets_after_apply AFTER INSERT OR UPDATE OR DELETE ON apikeys.key_sets
  FOR EACH ROW EXECUTE FUNCTION apikeys._key_sets_apply();

-- Every change invalidates the key set settings that backends cache for verify (allowlist,
-- rate limit). ENABLE ALWAYS: also for pg_restore and logical replication.
-- Per row, because the apply worker of logical replication fires no statement trigger; a
-- TRUNCATE has no rows, so it has the statement trigger.
CREATE TRIGGER key_sets_after_invalidate_row AFTER INSERT OR UPDATE OR DELETE ON apikeys.key_sets
  FOR EACH ROW EXECUTE FUNCTION apikeys._invalidate_cache();
ALTER TABLE apikeys.key_sets ENABLE ALWAYS TRIGGER key_sets_after_invalidate_row;
CREATE TRIGGER key_sets_after_invalidate AFTER TRUNCATE ON apikeys.key_sets
  FOR EACH STATEMENT EXECUTE FUNCTION apikeys._invalidate_cache();
ALTER TABLE apikeys.key_sets ENABLE ALWAYS TRIGGER key_sets_after_invalidate;
