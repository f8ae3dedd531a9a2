------------------------------------------------------------------------------------------
-- Tenants: validation, events, and the invalidation of verify's tenant cache
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys._tenants_check() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  lim text;
  val integer;
  rem interval;
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM apikeys._enforce(OLD.tenant_id, 'job', NULL, 'delete tenants');
    RETURN OLD;
  END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM apikeys._enforce(NULL, 'create_tenant', NULL, 'create tenants');
  ELSE
    PERFORM apikeys._enforce(OLD.tenant_id, 'tenant_settings', NULL, 'change tenant settings');
  END IF;
  IF TG_OP = 'UPDATE' AND NEW.tenant_id IS DISTINCT FROM OLD.tenant_id THEN
    RAISE EXCEPTION 'tenant "%" cannot be renamed', OLD.tenant_id
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF NEW.tenant_id IS NULL OR NEW.tenant_id = '' OR length(NEW.tenant_id) > 200 THEN
    RAISE EXCEPTION 'tenant id must be 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOREACH lim IN ARRAY ARRAY['max_key_sets', 'max_active_keys_per_set', 'max_keys_per_owner'] LOOP
    val := (to_jsonb(NEW) ->> lim)::integer;
    IF val IS NOT NULL AND val < 1 THEN
      RAISE EXCEPTION 'tenant "%": % must be positive (got %)', NEW.tenant_id, lim, val
        USING ERRCODE = 'check_violation',
              HINT = 'Limits are whole numbers from 1; max_keys_per_owner may also be NULL (no cap).';
    END IF;
  END LOOP;
  IF NEW.max_keys_per_owner > 1000 THEN
    RAISE EXCEPTION 'tenant "%": max_keys_per_owner is at most 1000 (got %)', NEW.tenant_id, NEW.max_keys_per_owner
      USING ERRCODE = 'check_violation', HINT = 'Use a value from 1 to 1000, or NULL for no cap.';
  END IF;
  FOREACH lim IN ARRAY ARRAY['max_expiry', 'default_expiry'] LOOP
    IF (to_jsonb(NEW) ->> lim)::interval <= interval '0' THEN
      RAISE EXCEPTION 'tenant "%": % must be a positive interval (got %)', NEW.tenant_id, lim, to_jsonb(NEW) ->> lim
        USING ERRCODE = 'check_violation', HINT = 'Use a positive interval, or NULL for none.';
    END IF;
  END LOOP;
  -- A floor on the retentions: purge() can never wipe a tenant's history as it happens.
  FOREACH lim IN ARRAY ARRAY['retention', 'event_retention', 'usage_retention'] LOOP
    IF (to_jsonb(NEW) ->> lim)::interval < interval '1 day' THEN
      RAISE EXCEPTION 'tenant "%": % must be at least 1 day (got %)', NEW.tenant_id, lim, to_jsonb(NEW) ->> lim
        USING ERRCODE = 'check_violation',
              HINT = CASE WHEN lim = 'usage_retention' THEN 'Use an interval of 1 day or more.'
                          ELSE 'Use an interval of 1 day or more, or NULL to keep them for ever.' END;
    END IF;
  END LOOP;
  IF NEW.default_expiry > NEW.max_expiry THEN
    RAISE EXCEPTION 'tenant "%": default_expiry % exceeds max_expiry %', NEW.tenant_id, NEW.default_expiry, NEW.max_expiry
      USING ERRCODE = 'check_violation', HINT = 'Lower default_expiry, or raise max_expiry.';
  END IF;
  IF NOT apikeys._valid_key_prefix(NEW.key_prefix) THEN
    RAISE EXCEPTION 'tenant "%": key_prefix must be 1 to 10 lower-case letters or digits', NEW.tenant_id
      USING ERRCODE = 'check_violation';
  END IF;
  NEW.allowed_ips := apikeys._allow_list('tenant', NEW.tenant_id, NEW.allowed_ips);
  IF TG_OP = 'INSERT' OR (NEW.rate_limit, NEW.rate_window) IS DISTINCT FROM (OLD.rate_limit, OLD.rate_window) THEN
    PERFORM apikeys._check_rate_limit('tenant', NEW.tenant_id, NEW.rate_limit, NEW.rate_window);
  END IF;
  IF TG_OP = 'INSERT' OR (NEW.key_rate_limit, NEW.key_rate_window)
                         IS DISTINCT FROM (OLD.key_rate_limit, OLD.key_rate_window) THEN
    PERFORM apikeys._check_rate_limit('tenant (key_rate_limit)', NEW.tenant_id, NEW.key_rate_limit,
                                      NEW.key_rate_window);
  END IF;
  FOREACH rem IN ARRAY coalesce(NEW.expiry_reminders, '{}') LOOP
    IF rem IS NULL OR rem <= interval '0' THEN
      RAISE EXCEPTION 'tenant "%": expiry_reminders must be positive intervals (got %)', NEW.tenant_id,
        coalesce(rem::text, 'NULL')
        USING ERRCODE = 'check_violation', HINT = 'For example ''{7 days,1 day}'', or ''{}'' for none.';
    END IF;
  END LOOP;
  IF TG_OP = 'UPDATE' THEN
    NEW.created_at := OLD.created_at;
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;
COMMENT ON FUNCTION apikeys._tenants_check() IS 'Trigger of apikeys.tenants: who may make the change (for roles with apikeys.enforce_members: tenant settings are an admin''s); validates the id, the limits (positive; max_keys_per_owner at most 1000), the intervals (positive; the retentions at least 1 day), the key prefix, the rate limits and the expiry reminders; keeps created_at and sets updated_at.';
CREATE TRIGGER tenants_before_check BEFORE INSERT OR UPDATE OR DELETE ON apikeys.tenants
  FOR EACH ROW EXECUTE FUNCTION apikeys._tenants_check();

CREATE FUNCTION apikeys._tenants_event() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  changes jsonb;
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM apikeys._record_event(NEW.tenant_id, NULL, NULL, 'tenant_created',
      to_jsonb(NEW) - 'tenant_id' - 'created_at' - 'updated_at');
  ELSIF TG_OP = 'UPDATE' THEN
    changes := apikeys._changes(to_jsonb(OLD), to_jsonb(NEW));
    IF changes <> '{}' THEN
      PERFORM apikeys._record_event(NEW.tenant_id, NULL, NULL, 'tenant_updated', changes);
    END IF;
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION apikeys._tenants_event() IS 'Trigger of apikeys.tenants: records tenant_created and tenant_updated (with the changed settings).';
CREATE TRIGGER tenants_after_event AFTER INSERT OR UPDATE ON apikeys.tenants
  FOR EACH ROW EXECUTE FUNCTION apikeys._tenants_event();

-- ENABLE ALWAYS: it also fires for pg_restore and logical replication, which run as replica.
-- Per row, because the apply worker of logical replication fires no statement trigger; a
-- TRUNCATE has no rows, so it has the statement trigger.
CREATE TRIGGER tenants_after_invalidate_row AFTER INSERT OR UPDATE OR DELETE ON apikeys.tenants
  FOR EACH ROW EXECUTE FUNCTION apikeys._invalidate_cache();
ALTER TABLE apikeys.tenants ENABLE ALWAYS TRIGGER tenants_after_invalidate_row;
CREATE TRIGGER tenants_after_invalidate AFTER TRUNCATE ON apikeys.tenants
  FOR EACH STATEMENT EXECUTE FUNCTION apikeys._invalidate_cache();
ALTER TABLE apikeys.tenants ENABLE ALWAYS TRIGGER tenants_after_invalidate;
