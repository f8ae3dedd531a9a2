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
COMMENT ON FUNCTION apikeys._key_sets_check() IS 'Trigger of apikeys.key_sets: validates name and permissions, keeps the ceiling above the keys'' own permissions, keeps the id, tenant and created_* columns, and refuses to delete a set that still has active keys.';
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
      UPDATE apikeys.keys SET permissions = NEW.permissions
       WHERE key_set_id = NEW.key_set_id AND permissions_inherited
         AND permissions IS DISTINCT FROM NEW.permissions;
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
