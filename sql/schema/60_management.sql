------------------------------------------------------------------------------------------
-- Management functions: the caller needs EXECUTE on them, not grants on the tables. The SQL
-- ones are SECURITY DEFINER; create_key is C and writes the key row itself (as the table's
-- owner), so it needs no SECURITY DEFINER. The triggers enforce every rule and record every
-- event.
------------------------------------------------------------------------------------------
CREATE FUNCTION apikeys.create_tenant(tenant_id text, enabled boolean DEFAULT true,
    max_key_sets integer DEFAULT 5, max_active_keys_per_set integer DEFAULT 5,
    max_keys_per_owner integer DEFAULT NULL, max_expiry interval DEFAULT NULL,
    default_expiry interval DEFAULT NULL, retention interval DEFAULT NULL,
    key_prefix text DEFAULT 'ak', event_retention interval DEFAULT NULL,
    allowed_ips cidr[] DEFAULT NULL, rate_limit integer DEFAULT NULL, rate_window interval DEFAULT NULL,
    key_rate_limit integer DEFAULT NULL, key_rate_window interval DEFAULT NULL,
    expiry_reminders interval[] DEFAULT '{7 days,1 day}', usage_retention interval DEFAULT '90 days')
  RETURNS apikeys.tenants LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t apikeys.tenants;
BEGIN
  INSERT INTO apikeys.tenants AS x (tenant_id, enabled, max_key_sets, max_active_keys_per_set,
      max_keys_per_owner, max_expiry, default_expiry, retention, key_prefix, event_retention,
      allowed_ips, rate_limit, rate_window, key_rate_limit, key_rate_window, expiry_reminders, usage_retention)
  VALUES (create_tenant.tenant_id, create_tenant.enabled, create_tenant.max_key_sets,
      create_tenant.max_active_keys_per_set, create_tenant.max_keys_per_owner, create_tenant.max_expiry,
      create_tenant.default_expiry, create_tenant.retention, create_tenant.key_prefix,
      create_tenant.event_retention, create_tenant.allowed_ips, create_tenant.rate_limit,
      create_tenant.rate_window, create_tenant.key_rate_limit, create_tenant.key_rate_window,
      coalesce(create_tenant.expiry_reminders, '{}'), coalesce(create_tenant.usage_retention, '90 days'))
  RETURNING * INTO t;
  RETURN t;
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'tenant "%" already exists', create_tenant.tenant_id USING ERRCODE = 'unique_violation';
END $$;
COMMENT ON FUNCTION apikeys.create_tenant(text, boolean, integer, integer, integer, interval, interval, interval, text, interval, cidr[], integer, interval, integer, interval, interval[], interval) IS 'Creates a tenant with its switch, limits and settings (named arguments, defaults as the table''s): key limits, expiry, retention, the key prefix, the allowlist, the tenant''s rate limit and the default rate limit of its keys, the expiry reminders and the usage retention. Returns the new row; 23505 if it exists; the table''s triggers validate every setting.';

CREATE FUNCTION apikeys._require_tenant(tenant_id text) RETURNS apikeys.tenants
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t apikeys.tenants;
BEGIN
  SELECT * INTO t FROM apikeys.tenants x WHERE x.tenant_id = _require_tenant.tenant_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'tenant "%" does not exist', _require_tenant.tenant_id USING ERRCODE = 'no_data_found';
  END IF;
  RETURN t;
END $$;
COMMENT ON FUNCTION apikeys._require_tenant(text) IS 'The tenant''s row, or P0002 if there is no such tenant.';

CREATE FUNCTION apikeys._require_key(key_id bigint) RETURNS apikeys.keys
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k apikeys.keys;
BEGIN
  SELECT * INTO k FROM apikeys.keys x WHERE x.key_id = _require_key.key_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'key % does not exist', coalesce(_require_key.key_id::text, 'NULL') USING ERRCODE = 'no_data_found';
  END IF;
  RETURN k;
END $$;
COMMENT ON FUNCTION apikeys._require_key(bigint) IS 'The key''s row locked FOR NO KEY UPDATE, or P0002 if there is no such key.';

CREATE FUNCTION apikeys._require_key_set(key_set_id bigint) RETURNS apikeys.key_sets
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s apikeys.key_sets;
BEGIN
  SELECT * INTO s FROM apikeys.key_sets x WHERE x.key_set_id = _require_key_set.key_set_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'key set % does not exist', coalesce(_require_key_set.key_set_id::text, 'NULL')
      USING ERRCODE = 'no_data_found';
  END IF;
  RETURN s;
END $$;
COMMENT ON FUNCTION apikeys._require_key_set(bigint) IS 'The key set''s row, or P0002 if there is no such set.';

CREATE FUNCTION apikeys.create_key_set(tenant_id text, name text, permissions text[] DEFAULT '{}',
    owner text DEFAULT NULL, description text DEFAULT NULL, allowed_ips cidr[] DEFAULT NULL,
    rate_limit integer DEFAULT NULL, rate_window interval DEFAULT NULL)
  RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  id bigint;
BEGIN
  PERFORM apikeys._require_tenant(create_key_set.tenant_id);
  INSERT INTO apikeys.key_sets (tenant_id, name, permissions, owner, description, allowed_ips, rate_limit, rate_window)
  VALUES (create_key_set.tenant_id, create_key_set.name, coalesce(create_key_set.permissions, '{}'),
          create_key_set.owner, create_key_set.description, create_key_set.allowed_ips,
          create_key_set.rate_limit, create_key_set.rate_window)
  RETURNING key_set_id INTO id;
  RETURN id;
END $$;
COMMENT ON FUNCTION apikeys.create_key_set(text, text, text[], text, text, cidr[], integer, interval) IS 'Creates a key set (a named group of keys with a permission ceiling, and optionally an allowlist and a rate limit for its keys) in a tenant; returns its id. At most max_key_sets per tenant (23514).';

CREATE FUNCTION apikeys.create_key(tenant_id text, name text, owner text DEFAULT NULL,
    permissions text[] DEFAULT NULL, expires_in interval DEFAULT NULL, key_set_id bigint DEFAULT NULL,
    description text DEFAULT NULL, allowed_ips cidr[] DEFAULT NULL, rate_limit integer DEFAULT NULL,
    rate_window interval DEFAULT NULL)
  RETURNS TABLE (key_id bigint, client_id text, key text)
  AS 'MODULE_PATHNAME', 'apikeys_create_key' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION apikeys.create_key(text, text, text, text[], interval, bigint, text, cidr[], integer, interval) IS 'Creates a key and returns (key_id, client_id, key): the only time the plaintext key is shown. Without permissions a key in a set inherits the set''s; without expires_in the tenant''s default_expiry (or max_expiry) applies; allowed_ips and rate_limit/rate_window are the key''s own (else its set''s, then its tenant''s). Obeys every tenant limit (23514, 55000).';

CREATE FUNCTION apikeys.update_key(key_id bigint, name text DEFAULT NULL, permissions text[] DEFAULT NULL,
    description text DEFAULT NULL, allowed_ips cidr[] DEFAULT NULL, rate_limit integer DEFAULT NULL,
    rate_window interval DEFAULT NULL)
  RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM apikeys._require_key(update_key.key_id);
  UPDATE apikeys.keys k
     SET name = coalesce(update_key.name, k.name),
         permissions = coalesce(update_key.permissions, k.permissions),
         permissions_inherited = k.permissions_inherited AND update_key.permissions IS NULL,
         description = coalesce(update_key.description, k.description),
         allowed_ips = CASE WHEN update_key.allowed_ips IS NULL THEN k.allowed_ips
                            WHEN cardinality(update_key.allowed_ips) = 0 THEN NULL ELSE update_key.allowed_ips END,
         rate_limit = CASE WHEN update_key.rate_limit IS NULL THEN k.rate_limit
                           WHEN update_key.rate_limit = 0 THEN NULL ELSE update_key.rate_limit END,
         rate_window = CASE WHEN update_key.rate_limit = 0 THEN NULL
                            ELSE coalesce(update_key.rate_window, k.rate_window) END
   WHERE k.key_id = update_key.key_id;
END $$;
COMMENT ON FUNCTION apikeys.update_key(bigint, text, text[], text, cidr[], integer, interval) IS 'Changes a key''s name, permissions, description, allowlist or rate limit; NULL leaves a field as it is, allowed_ips => ''{}'' removes the key''s own list and rate_limit => 0 its own limit. New permissions and networks must stay within the set''s (23514).';

CREATE FUNCTION apikeys.update_key_set(key_set_id bigint, name text DEFAULT NULL,
    permissions text[] DEFAULT NULL, description text DEFAULT NULL, allowed_ips cidr[] DEFAULT NULL,
    rate_limit integer DEFAULT NULL, rate_window interval DEFAULT NULL)
  RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM apikeys._require_key_set(update_key_set.key_set_id);
  -- Lock order of every key path: keys, then their set, then the tenant.
  PERFORM 1 FROM apikeys.keys k WHERE k.key_set_id = update_key_set.key_set_id ORDER BY k.key_id
    FOR NO KEY UPDATE;
  UPDATE apikeys.key_sets s
     SET name = coalesce(update_key_set.name, s.name),
         permissions = coalesce(update_key_set.permissions, s.permissions),
         description = coalesce(update_key_set.description, s.description),
         allowed_ips = CASE WHEN update_key_set.allowed_ips IS NULL THEN s.allowed_ips
                            WHEN cardinality(update_key_set.allowed_ips) = 0 THEN NULL
                            ELSE update_key_set.allowed_ips END,
         rate_limit = CASE WHEN update_key_set.rate_limit IS NULL THEN s.rate_limit
                           WHEN update_key_set.rate_limit = 0 THEN NULL ELSE update_key_set.rate_limit END,
         rate_window = CASE WHEN update_key_set.rate_limit = 0 THEN NULL
                            ELSE coalesce(update_key_set.rate_window, s.rate_window) END
   WHERE s.key_set_id = update_key_set.key_set_id;
END $$;
COMMENT ON FUNCTION apikeys.update_key_set(bigint, text, text[], text, cidr[], integer, interval) IS 'Changes a key set''s name, permissions, description, allowlist or rate limit (NULL leaves a field; allowed_ips => ''{}'' removes the list, rate_limit => 0 the limit); keys that inherit the permissions follow, and narrowing below a key''s own permissions or networks is refused (23514).';

CREATE FUNCTION apikeys._set_status(key_id bigint, status text) RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k apikeys.keys;
BEGIN
  k := apikeys._require_key(_set_status.key_id);
  IF k.status = 'revoked' THEN
    RAISE EXCEPTION 'key % ("%") is revoked and cannot become %', k.key_id, k.name, _set_status.status
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Revocation is irreversible: create a new key.';
  END IF;
  IF k.status <> _set_status.status THEN
    UPDATE apikeys.keys x SET status = _set_status.status WHERE x.key_id = _set_status.key_id;
  END IF;
END $$;
COMMENT ON FUNCTION apikeys._set_status(bigint, text) IS 'Sets a key''s status to active or inactive (55000 for a revoked key); the triggers enforce the limits.';

CREATE FUNCTION apikeys.activate_key(key_id bigint) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT apikeys._set_status(activate_key.key_id, 'active') $$;
COMMENT ON FUNCTION apikeys.activate_key(bigint) IS 'Makes an inactive key active again; obeys the set''s max_active_keys_per_set (23514). 55000 for a revoked key.';

CREATE FUNCTION apikeys.deactivate_key(key_id bigint) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT apikeys._set_status(deactivate_key.key_id, 'inactive') $$;
COMMENT ON FUNCTION apikeys.deactivate_key(bigint) IS 'Makes a key inactive (reversible): it answers INACTIVE until activated. 55000 for a revoked key.';

CREATE FUNCTION apikeys.revoke_keys(key_ids bigint[], reason text DEFAULT NULL) RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  id bigint;
  k apikeys.keys;
  n integer := 0;
BEGIN
  IF key_ids IS NULL OR cardinality(key_ids) = 0 THEN
    RAISE EXCEPTION 'no key ids given' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR id IN SELECT DISTINCT u FROM unnest(key_ids) u ORDER BY 1 LOOP
    k := apikeys._require_key(id);
    IF k.status = 'revoked' THEN
      RAISE EXCEPTION 'key % ("%") is already revoked', k.key_id, k.name
        USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE apikeys.keys x SET status = 'revoked', revoked_reason = revoke_keys.reason WHERE x.key_id = id;
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;
COMMENT ON FUNCTION apikeys.revoke_keys(bigint[], text) IS 'Revokes keys, all or nothing (55000 if one is already revoked, P0002 if one does not exist); returns how many were revoked. Irreversible.';

CREATE FUNCTION apikeys.revoke_key(key_id bigint, reason text DEFAULT NULL) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT apikeys.revoke_keys(ARRAY[revoke_key.key_id], revoke_key.reason) $$;
COMMENT ON FUNCTION apikeys.revoke_key(bigint, text) IS 'Revokes a key: irreversible, it answers REVOKED from then on. Only an active or inactive key can be revoked (55000).';

CREATE FUNCTION apikeys.delete_key(key_id bigint) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM apikeys._require_key(delete_key.key_id);
  DELETE FROM apikeys.keys k WHERE k.key_id = delete_key.key_id;
END $$;
COMMENT ON FUNCTION apikeys.delete_key(bigint) IS 'Deletes a key; its events stay (a deleted event is recorded).';

CREATE FUNCTION apikeys.delete_key_set(key_set_id bigint) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM apikeys._require_key_set(delete_key_set.key_set_id);
  -- Keys first, then the set: the lock order of every key path.
  PERFORM 1 FROM apikeys.keys k WHERE k.key_set_id = delete_key_set.key_set_id ORDER BY k.key_id
    FOR NO KEY UPDATE;
  DELETE FROM apikeys.key_sets s WHERE s.key_set_id = delete_key_set.key_set_id;
END $$;
COMMENT ON FUNCTION apikeys.delete_key_set(bigint) IS 'Deletes a key set and its keys; refused while any key of the set is active (55000).';

CREATE FUNCTION apikeys.roll_key(key_id bigint, grace interval DEFAULT '24 hours')
  RETURNS TABLE (key_id bigint, client_id text, key text)
  AS 'MODULE_PATHNAME', 'apikeys_roll_key' LANGUAGE C VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION apikeys.roll_key(bigint, interval) IS 'Gives a key a new secret with the same client id and returns (key_id, client_id, key), shown once. The old secret keeps verifying until now() + grace, never past the key''s own expiry; grace => ''0'' cuts it off at once.';

CREATE FUNCTION apikeys.purge(as_of timestamptz DEFAULT now()) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n bigint;
  n_events bigint;
  n_usage bigint;
BEGIN
  PERFORM apikeys._enforce(NULL, 'job', NULL, 'purge keys');
  IF as_of IS NULL THEN
    RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF as_of > now() THEN
    -- A date in the future would bypass the retention, and could purge a live key.
    RAISE EXCEPTION 'as_of must not be later than now()' USING ERRCODE = 'invalid_parameter_value',
      HINT = 'Purge as of now, or of a time in the past.';
  END IF;
  PERFORM apikeys._allow_event_purge(true);
  -- Rows are locked in key_id order, as delete_key_set and update_key_set lock theirs. The
  -- retentions are at least a day (a tenant of 1.1 may still hold a shorter one), and a key
  -- that is neither revoked nor expired is never purged, whatever the dates say.
  WITH doomed AS (
    SELECT k.key_id FROM apikeys.keys k JOIN apikeys.tenants t ON t.tenant_id = k.tenant_id,
           LATERAL (SELECT as_of - GREATEST(t.retention, interval '1 day') AS cutoff) c
     WHERE t.retention IS NOT NULL
       AND (k.revoked_at <= c.cutoff OR k.expires_at <= c.cutoff)
       AND NOT apikeys._live(k.status, k.expires_at)
     ORDER BY k.key_id FOR UPDATE OF k),
  gone AS (
    DELETE FROM apikeys.keys k USING doomed d WHERE k.key_id = d.key_id
    RETURNING 1)
  SELECT count(*) INTO n FROM gone;
  -- Events of tenants only: the installation's (tenant_id NULL) are kept for ever.
  DELETE FROM apikeys.events e USING apikeys.tenants t
   WHERE t.tenant_id = e.tenant_id AND t.event_retention IS NOT NULL
     AND e.at <= as_of - GREATEST(t.event_retention, interval '1 day');
  GET DIAGNOSTICS n_events = ROW_COUNT;
  -- Usage by the tenant's usage_retention; the usage of a tenant that no longer exists goes.
  DELETE FROM apikeys.usage u
   WHERE NOT EXISTS (SELECT FROM apikeys.tenants t WHERE t.tenant_id = u.tenant_id
                        AND (t.usage_retention IS NULL
                             OR u.hour > as_of - GREATEST(t.usage_retention, interval '1 day')));
  GET DIAGNOSTICS n_usage = ROW_COUNT;
  PERFORM apikeys._allow_event_purge(false);
  -- The record of this run, which no purge deletes.
  PERFORM apikeys._record_event(NULL, NULL, NULL, 'purge_run',
    pg_catalog.jsonb_build_object('as_of', as_of, 'keys', n, 'events', n_events, 'usage', n_usage));
  RETURN n;
END $$;
COMMENT ON FUNCTION apikeys.purge(timestamptz) IS 'Deletes keys expired or revoked longer ago than their tenant''s retention, events older than its event_retention and usage older than its usage_retention (each at least 1 day); returns the number of keys deleted. as_of may not be in the future (22023); a live key is never purged; each run writes a purge_run event (no tenant) with its counts, which no purge deletes. Schedulable with pg_cron.';

CREATE FUNCTION apikeys.search_keys(tenant_id text, query text DEFAULT NULL)
  RETURNS TABLE (key_id bigint, client_id text, name text, owner text, key_set_id bigint, status text,
                 hint text, permissions text[], updated_at timestamptz, created_at timestamptz,
                 expires_at timestamptz, last_used_at timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  pattern text := '%' || replace(replace(replace(search_keys.query, '\', '\\'), '%', '\%'), '_', '\_') || '%';
BEGIN
  PERFORM apikeys._enforce(search_keys.tenant_id, 'read_tenant', NULL, 'search keys');
  PERFORM apikeys._require_tenant(search_keys.tenant_id);
  RETURN QUERY
    SELECT k.key_id, k.client_id::text, k.name, k.owner, k.key_set_id,
           CASE WHEN k.status = 'active' AND k.expires_at <= now() THEN 'expired' ELSE k.status END,
           k.hint, k.permissions, k.updated_at, k.created_at, k.expires_at, k.last_used_at
      FROM apikeys.keys k
     WHERE k.tenant_id = search_keys.tenant_id
       AND (search_keys.query IS NULL OR k.name ILIKE pattern OR k.client_id ILIKE pattern
            OR k.key_id::text = search_keys.query OR k.owner ILIKE pattern)
     ORDER BY k.created_at DESC, k.key_id;
END $$;
COMMENT ON FUNCTION apikeys.search_keys(text, text) IS 'The keys of a tenant, newest first: name, ids, owner, set, status (expired for an active key past its expiry), hint, permissions and times. query matches name, client id and owner (case-insensitive substring) and the key id (exact).';

