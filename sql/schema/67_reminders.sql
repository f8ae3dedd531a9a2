------------------------------------------------------------------------------------------
-- Expiry reminders: tokens must be regenerated before they expire
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys.send_expiry_reminders(as_of timestamptz DEFAULT now()) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET IntervalStyle = 'postgres'
AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM apikeys._enforce(NULL, 'job', NULL, 'send expiry reminders');
  IF as_of IS NULL THEN
    RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Every live key (not revoked, not expired) within one of its tenant's thresholds that was
  -- not covered yet. The primary key of apikeys.reminders decides under concurrency: a
  -- second run waits for the first and then finds the row. One event per key and run, for
  -- the nearest threshold newly covered (a key found within 1 day is not also told about 7).
  WITH due AS (
    SELECT k.key_id, k.tenant_id, k.key_set_id, k.expires_at, th AS threshold
      FROM apikeys.keys k
      JOIN apikeys.tenants t ON t.tenant_id = k.tenant_id
      CROSS JOIN LATERAL unnest(t.expiry_reminders) th
     WHERE k.status <> 'revoked' AND k.expires_at > as_of AND k.expires_at <= as_of + th
  ), fresh AS (
    INSERT INTO apikeys.reminders AS r (key_id, threshold, expires_at)
    SELECT d.key_id, d.threshold, d.expires_at FROM due d ORDER BY d.key_id, d.threshold
    ON CONFLICT (key_id, threshold) DO NOTHING
    RETURNING r.key_id, r.threshold, r.expires_at
  ), nearest AS (
    SELECT DISTINCT ON (f.key_id) f.key_id, f.threshold, f.expires_at FROM fresh f ORDER BY f.key_id, f.threshold
  )
  SELECT count(*) INTO n FROM (
    SELECT apikeys._record_event(d.tenant_id, d.key_id, d.key_set_id, 'expiring',
             jsonb_build_object('threshold', x.threshold, 'expires_at', x.expires_at))
      FROM nearest x JOIN (SELECT DISTINCT key_id, tenant_id, key_set_id FROM due) d ON d.key_id = x.key_id) s;
  RETURN n;
END $$;
COMMENT ON FUNCTION apikeys.send_expiry_reminders(timestamptz) IS 'Writes an expiring event (details: threshold, expires_at; also sent with NOTIFY) for every live key whose expiry falls within one of its tenant''s expiry_reminders and that was not reminded for that threshold yet; once per key and threshold, also when runs race; rolling a key or changing its expiry re-arms it. Returns the number of events. Schedulable with pg_cron.';

CREATE FUNCTION apikeys.expiring_keys(tenant_id text, within interval DEFAULT '7 days')
  RETURNS TABLE (key_id bigint, name text, owner text, expires_at timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM apikeys._enforce(expiring_keys.tenant_id, 'read_tenant', NULL, 'list expiring keys');
  PERFORM apikeys._require_tenant(expiring_keys.tenant_id);
  IF expiring_keys.within IS NULL THEN
    RAISE EXCEPTION 'within must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT k.key_id, k.name, k.owner, k.expires_at FROM apikeys.keys k
     WHERE k.tenant_id = expiring_keys.tenant_id AND k.status <> 'revoked'
       AND k.expires_at > now() AND k.expires_at <= now() + expiring_keys.within
     ORDER BY k.expires_at, k.key_id;
END $$;
COMMENT ON FUNCTION apikeys.expiring_keys(text, interval) IS 'A tenant''s live keys that expire within the given time, soonest first. Any member of the tenant may read it.';

CREATE FUNCTION apikeys._rearm_reminders(key_id bigint) RETURNS void
  LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ DELETE FROM apikeys.reminders r WHERE r.key_id = _rearm_reminders.key_id $$;
COMMENT ON FUNCTION apikeys._rearm_reminders(bigint) IS 'Forgets the reminders of a key whose expiry or secret changed (the keys trigger calls it), so that they are sent again for the new expiry.';
