------------------------------------------------------------------------------------------
-- Grants in one statement: what an application role and an administrator role need
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys._require_grantor() RETURNS void
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = current_user AND r.rolsuper)
     AND NOT EXISTS (SELECT FROM pg_extension e
                      WHERE e.extname = 'apikeys' AND pg_has_role(current_user, e.extowner, 'USAGE')) THEN
    RAISE EXCEPTION 'role "%" may not grant the rights of apikeys', current_user
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'Only the owner of the extension or a superuser may.';
  END IF;
END $$;
COMMENT ON FUNCTION apikeys._require_grantor() IS 'Raises 42501 unless the current role owns the extension (or is a member of its owner) or is a superuser.';

CREATE FUNCTION apikeys.grant_app(role regrole) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM apikeys._require_grantor();
  EXECUTE format('GRANT USAGE ON SCHEMA apikeys TO %s', role);
  EXECUTE format('GRANT USAGE ON TYPE apikeys.verification TO %s', role);
  EXECUTE format('GRANT EXECUTE ON FUNCTION apikeys.verify(text, text[], inet), apikeys.authenticate(text, text[], inet),
    apikeys.current_key_id(), apikeys.current_tenant(), apikeys.current_owner(), apikeys.current_key_set_id(),
    apikeys.current_permissions(), apikeys.has_permission(text),
    apikeys.issue_token(text, text, interval, inet), apikeys.verify_token(text, boolean, inet),
    apikeys.authenticate_token(text, inet), apikeys.jwks() TO %s', role);
END $$;
COMMENT ON FUNCTION apikeys.grant_app(regrole) IS 'Gives a role what an application server needs, and nothing more: verify, authenticate and the RLS helpers, the access tokens (issue, verify, authenticate, JWKS), USAGE on the schema and the verification type. No table. The extension''s owner or a superuser only (42501); every update extends it to the functions it adds.';

CREATE FUNCTION apikeys.grant_admin(role regrole) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM apikeys._require_grantor();
  EXECUTE format('GRANT USAGE ON SCHEMA apikeys TO %s', role);
  EXECUTE format('GRANT USAGE ON TYPE apikeys.verification TO %s', role);
  EXECUTE format('GRANT EXECUTE ON FUNCTION
    apikeys.create_tenant(text, boolean, integer, integer, integer, interval, interval, interval, text, interval,
      cidr[], integer, interval, integer, interval, interval[], interval),
    apikeys.create_key_set(text, text, text[], text, text, cidr[], integer, interval),
    apikeys.update_key_set(bigint, text, text[], text, cidr[], integer, interval),
    apikeys.delete_key_set(bigint),
    apikeys.create_key(text, text, text, text[], interval, bigint, text, cidr[], integer, interval),
    apikeys.update_key(bigint, text, text[], text, cidr[], integer, interval),
    apikeys.activate_key(bigint), apikeys.deactivate_key(bigint), apikeys.revoke_key(bigint, text),
    apikeys.revoke_keys(bigint[], text), apikeys.delete_key(bigint), apikeys.roll_key(bigint, interval),
    apikeys.purge(timestamptz), apikeys.search_keys(text, text), apikeys.current_actor(), apikeys._actor(),
    apikeys.add_member(text, text, text, boolean), apikeys.update_member(text, text, text, boolean),
    apikeys.remove_member(text, text),
    apikeys.key_usage(bigint, timestamptz), apikeys.top_keys(text, interval, integer), apikeys.usage_status(),
    apikeys.send_expiry_reminders(timestamptz), apikeys.expiring_keys(text, interval),
    apikeys.verify(text, text[], inet), apikeys.verify_token(text, boolean, inet),
    apikeys.add_signing_key(text, boolean), apikeys.set_current_signing_key(text),
    apikeys.retire_signing_key(text), apikeys.jwks() TO %s', role);
  EXECUTE format('GRANT SELECT, UPDATE ON apikeys.tenants TO %s', role);
  EXECUTE format('GRANT SELECT ON apikeys.key_sets, apikeys.events, apikeys.members, apikeys.usage, apikeys.reminders TO %s',
                 role);
  EXECUTE format('GRANT SELECT (key_id, owner_disabled, client_id, tenant_id, status, permissions, expires_at, key_set_id,
    owner, allowed_ips, rate_limit, rate_window, previous_expires_at, name, description, permissions_inherited,
    created_at, created_by, updated_at, updated_by, revoked_at, revoked_by, revoked_reason, last_used_at, hint)
    ON apikeys.keys TO %s', role);
  EXECUTE format('GRANT SELECT (kid, alg, public_key, created_at, retired_at, is_current) ON apikeys.signing_keys TO %s',
                 role);
END $$;
COMMENT ON FUNCTION apikeys.grant_admin(regrole) IS 'Gives a role what a key administrator needs: every management function (tenants, key sets, keys, members, signing keys, purge, search), the actor the column defaults read, verify, and reads of every table but the hashes and secrets (the tenants also UPDATE). The extension''s owner or a superuser only (42501); every update extends it to the functions it adds.';
