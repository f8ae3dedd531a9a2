------------------------------------------------------------------------------------------
-- Members: who may act for a tenant (enforced for roles with apikeys.enforce_members)
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys._enforce(tenant_id text, "right" text, owner text, verb text) RETURNS void
  AS 'MODULE_PATHNAME', 'apikeys_enforce' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION apikeys._enforce(text, text, text, text) IS 'For a session with apikeys.enforce_members: raises 42501 unless apikeys.actor is a member of the tenant with the right (tenant_settings, members, key_sets, create_key, edit_key, revoke_key, read_tenant; create_tenant and job are refused) for a key of owner; verb names the change in the message.';

CREATE FUNCTION apikeys._internal_write(started boolean) RETURNS void
  AS 'MODULE_PATHNAME', 'apikeys_internal_write' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys._internal_write(boolean) IS 'Begins (true) or ends (false) one of the extension''s own nested writes, made for a change already allowed (backend memory, ended with the subtransaction that began it).';

CREATE FUNCTION apikeys._count_admins(tenant_id text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_count_admins' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys._count_admins(text) IS 'The tenant''s admins, counted under the latest snapshot, for the last-admin rule (checked after the tenant row is locked).';

CREATE FUNCTION apikeys._set_owner_disabled(tenant_id text, user_id text, disabled boolean) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_set_owner_disabled' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys._set_owner_disabled(text, text, boolean) IS 'Marks every committed key of a user (OWNER_DISABLED when disabled); the members'' trigger calls it with the tenant row locked.';

CREATE FUNCTION apikeys._revoke_member_keys(tenant_id text, user_id text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_revoke_member_keys' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys._revoke_member_keys(text, text) IS 'Revokes every committed key of a removed member (reason: member removed).';

CREATE FUNCTION apikeys._members_check() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM apikeys._enforce(OLD.tenant_id, 'members', NULL, 'remove members');
    RETURN OLD;
  END IF;
  PERFORM apikeys._enforce(NEW.tenant_id, 'members', NULL,
    CASE WHEN TG_OP = 'INSERT' THEN 'add members' ELSE 'change members' END);
  IF NEW.user_id IS NULL OR btrim(NEW.user_id) = '' THEN
    RAISE EXCEPTION 'member user id must not be empty' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NEW.role IS NULL OR NEW.role NOT IN ('admin', 'developer', 'member') THEN
    RAISE EXCEPTION 'member role must be admin, developer or member (got %)', coalesce('"' || NEW.role || '"', 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NEW.api_access IS NULL THEN
    -- Admins and developers have API access by default; members must be given it.
    NEW.api_access := NEW.role IN ('admin', 'developer');
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF NEW.tenant_id <> OLD.tenant_id OR NEW.user_id <> OLD.user_id THEN
      RAISE EXCEPTION 'member "%" of tenant "%" cannot change its tenant or user id', OLD.user_id, OLD.tenant_id
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    NEW.created_at := OLD.created_at;
    NEW.created_by := OLD.created_by;
    NEW.updated_at := now();
    NEW.updated_by := apikeys._actor();
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apikeys._members_check() IS 'Trigger of apikeys.members: who may make the change (for roles with apikeys.enforce_members: an admin of the tenant); validates the user id and role, gives admins and developers API access unless told otherwise, keeps the tenant, user id and created_* columns.';
CREATE TRIGGER members_before_check BEFORE INSERT OR UPDATE OR DELETE ON apikeys.members
  FOR EACH ROW EXECUTE FUNCTION apikeys._members_check();

-- The tenant row is the lock of every change of its members (and of key creation), so the
-- last-admin rule holds when two admins demote each other at once, and a user switched off
-- never keeps a key made meanwhile.
CREATE FUNCTION apikeys._members_apply() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tenant text := CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END;
  changes jsonb;
BEGIN
  PERFORM 1 FROM apikeys.tenants t WHERE t.tenant_id = tenant FOR NO KEY UPDATE;
  -- A tenant with members keeps an admin.
  IF (TG_OP <> 'INSERT' AND OLD.role = 'admin' AND (TG_OP = 'DELETE' OR NEW.role <> 'admin'))
     OR (TG_OP = 'INSERT' AND NEW.role <> 'admin') THEN
    IF apikeys._count_admins(tenant) = 0 AND EXISTS (SELECT FROM apikeys.members m WHERE m.tenant_id = tenant) THEN
      IF TG_OP = 'INSERT' THEN
        RAISE EXCEPTION 'tenant "%" has no admin: its first member must be an admin', tenant
          USING ERRCODE = 'object_not_in_prerequisite_state',
                HINT = 'Add an admin first (apikeys.add_member(..., role => ''admin''), as a role without apikeys.enforce_members).';
      END IF;
      RAISE EXCEPTION 'tenant "%" must keep an admin: user "%" is its last', tenant, OLD.user_id
        USING ERRCODE = 'object_not_in_prerequisite_state',
              HINT = 'Make another member admin first (apikeys.update_member(..., role => ''admin'')).';
    END IF;
  END IF;
  IF TG_OP = 'INSERT' THEN
    IF NOT NEW.api_access THEN
      PERFORM apikeys._set_owner_disabled(NEW.tenant_id, NEW.user_id, true);
    END IF;
    PERFORM apikeys._record_event(NEW.tenant_id, NULL, NULL, 'member_added',
      jsonb_build_object('user_id', NEW.user_id, 'role', NEW.role, 'api_access', NEW.api_access));
  ELSIF TG_OP = 'UPDATE' THEN
    IF NEW.api_access IS DISTINCT FROM OLD.api_access THEN
      PERFORM apikeys._set_owner_disabled(NEW.tenant_id, NEW.user_id, NOT NEW.api_access);
    END IF;
    changes := apikeys._changes(to_jsonb(OLD), to_jsonb(NEW));
    IF changes <> '{}' THEN
      PERFORM apikeys._record_event(NEW.tenant_id, NULL, NULL, 'member_updated',
        jsonb_build_object('user_id', NEW.user_id) || changes);
    END IF;
  ELSE
    -- A removed member's keys are revoked; not a member, the user's switch no longer applies.
    PERFORM apikeys._revoke_member_keys(OLD.tenant_id, OLD.user_id);
    PERFORM apikeys._set_owner_disabled(OLD.tenant_id, OLD.user_id, false);
    PERFORM apikeys._record_event(OLD.tenant_id, NULL, NULL, 'member_removed',
      jsonb_build_object('user_id', OLD.user_id, 'role', OLD.role));
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION apikeys._members_apply() IS 'Trigger of apikeys.members: under a lock on the tenant row, the last-admin rule (a tenant with members keeps an admin), the user''s switch passed to the user''s keys (OWNER_DISABLED without API access), the revocation of a removed member''s keys, and the member_* events.';
CREATE TRIGGER members_after_apply AFTER INSERT OR UPDATE OR DELETE ON apikeys.members
  FOR EACH ROW EXECUTE FUNCTION apikeys._members_apply();

CREATE FUNCTION apikeys.add_member(tenant_id text, user_id text, role text DEFAULT 'member',
    api_access boolean DEFAULT NULL)
  RETURNS apikeys.members LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  m apikeys.members;
BEGIN
  PERFORM apikeys._require_tenant(add_member.tenant_id);
  INSERT INTO apikeys.members AS x (tenant_id, user_id, role, api_access)
  VALUES (add_member.tenant_id, add_member.user_id, add_member.role, add_member.api_access)
  RETURNING * INTO m;
  RETURN m;
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'user "%" is already a member of tenant "%"', add_member.user_id, add_member.tenant_id
    USING ERRCODE = 'unique_violation', HINT = 'Change the member with apikeys.update_member().';
END $$;
COMMENT ON FUNCTION apikeys.add_member(text, text, text, boolean) IS 'Adds a user to a tenant as admin, developer or member (default); api_access defaults to true for admin and developer, false for member. A tenant''s first member must be an admin, added by a role without apikeys.enforce_members. Returns the row.';

CREATE FUNCTION apikeys.update_member(tenant_id text, user_id text, role text DEFAULT NULL,
    api_access boolean DEFAULT NULL)
  RETURNS apikeys.members LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  m apikeys.members;
BEGIN
  UPDATE apikeys.members x
     SET role = coalesce(update_member.role, x.role),
         api_access = coalesce(update_member.api_access, x.api_access)
   WHERE x.tenant_id = update_member.tenant_id AND x.user_id = update_member.user_id
  RETURNING * INTO m;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'user "%" is not a member of tenant "%"', update_member.user_id, update_member.tenant_id
      USING ERRCODE = 'no_data_found';
  END IF;
  RETURN m;
END $$;
COMMENT ON FUNCTION apikeys.update_member(text, text, text, boolean) IS 'Changes a member''s role or API access (NULL leaves it). Switching API access off makes every key of the user answer OWNER_DISABLED until it is switched on again; the last admin cannot be demoted (55000). Returns the row.';

CREATE FUNCTION apikeys.remove_member(tenant_id text, user_id text)
  RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM apikeys.members x WHERE x.tenant_id = remove_member.tenant_id AND x.user_id = remove_member.user_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'user "%" is not a member of tenant "%"', remove_member.user_id, remove_member.tenant_id
      USING ERRCODE = 'no_data_found';
  END IF;
END $$;
COMMENT ON FUNCTION apikeys.remove_member(text, text) IS 'Removes a user from a tenant and revokes every key the user owns there (reason: member removed). The last admin of a tenant with other members cannot be removed (55000).';
