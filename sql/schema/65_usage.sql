------------------------------------------------------------------------------------------
-- Usage metering and rate limits (needs shared_preload_libraries = 'apikeys')
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys._usage_pending(key_id bigint DEFAULT NULL)
  RETURNS TABLE (key_id bigint, hour timestamptz, code text, count bigint, last_used timestamptz)
  AS 'MODULE_PATHNAME', 'apikeys_usage_pending' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION apikeys._usage_pending(bigint) IS 'The counts in this server''s shared memory that the usage writer has not flushed yet (of one key, or of every key of this database when NULL), as rows of the current UTC hour.';

CREATE FUNCTION apikeys.key_usage(key_id bigint,
    since timestamptz DEFAULT pg_catalog.now() OPERATOR(pg_catalog.-) interval '24 hours')
  RETURNS TABLE (hour timestamptz, code text, count bigint)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tenant text;
BEGIN
  -- Read, not locked: this works on a standby, which counts its own answers.
  SELECT k.tenant_id INTO tenant FROM apikeys.keys k WHERE k.key_id = key_usage.key_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'key % does not exist', key_usage.key_id USING ERRCODE = 'no_data_found';
  END IF;
  PERFORM apikeys._enforce(tenant, 'read_tenant', NULL, 'read usage');
  IF key_usage.since IS NULL THEN
    RAISE EXCEPTION 'since must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    SELECT c.hour, c.code, sum(c.count)::bigint
      FROM (SELECT u.hour, u.code, u.count FROM apikeys.usage u
             WHERE u.key_id = key_usage.key_id
               AND u.hour >= date_trunc('hour', key_usage.since AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
            UNION ALL
            SELECT p.hour, p.code, p.count FROM apikeys._usage_pending(key_usage.key_id) p) c
     GROUP BY c.hour, c.code
     ORDER BY c.hour, c.code;
END $$;
COMMENT ON FUNCTION apikeys.key_usage(bigint, timestamptz) IS 'A key''s answers per UTC hour and code since a time (every hour that overlaps it), including the counts not flushed yet. Any member of the key''s tenant may read it.';

CREATE FUNCTION apikeys.top_keys(tenant_id text, since interval DEFAULT '1 hour', n integer DEFAULT 10)
  RETURNS TABLE (key_id bigint, name text, owner text, valid bigint, refused bigint, rate_limited bigint)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM apikeys._enforce(top_keys.tenant_id, 'read_tenant', NULL, 'read usage');
  PERFORM apikeys._require_tenant(top_keys.tenant_id);
  IF top_keys.since IS NULL OR top_keys.n IS NULL OR top_keys.n < 1 THEN
    RAISE EXCEPTION 'since must not be NULL and n must be positive' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
    WITH c AS (
      SELECT u.key_id, u.code, u.count FROM apikeys.usage u
       WHERE u.tenant_id = top_keys.tenant_id
         AND u.hour >= date_trunc('hour', (now() - top_keys.since) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
      UNION ALL
      SELECT p.key_id, p.code, p.count FROM apikeys._usage_pending(NULL) p
    )
    SELECT k.key_id, k.name, k.owner,
           coalesce(sum(c.count) FILTER (WHERE c.code = 'VALID'), 0)::bigint,
           coalesce(sum(c.count) FILTER (WHERE c.code NOT IN ('VALID', 'RATE_LIMITED')), 0)::bigint,
           coalesce(sum(c.count) FILTER (WHERE c.code = 'RATE_LIMITED'), 0)::bigint
      FROM c JOIN apikeys.keys k ON k.key_id = c.key_id AND k.tenant_id = top_keys.tenant_id
     GROUP BY k.key_id, k.name, k.owner
     ORDER BY sum(c.count) DESC, k.key_id
     LIMIT top_keys.n;
END $$;
COMMENT ON FUNCTION apikeys.top_keys(text, interval, integer) IS 'A tenant''s busiest keys over a period (every UTC hour that overlaps it, and what is not flushed yet), ranked by all their answers: valid, refused (every other code but RATE_LIMITED) and rate_limited. Any member of the tenant may read it.';

CREATE FUNCTION apikeys.usage_status(OUT metering boolean, OUT preloaded boolean, OUT tracking boolean,
    OUT database text, OUT last_flush timestamptz, OUT flush_lag interval, OUT slots_used bigint,
    OUT slots_total bigint, OUT tenant_slots_used bigint, OUT tenant_slots_total bigint,
    OUT uncounted bigint, OUT limited_refusals bigint, OUT flush_errors bigint, OUT writer_pid integer,
    OUT logs_redacted boolean)
  AS 'MODULE_PATHNAME', 'apikeys_usage_status' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION apikeys.usage_status() IS 'Whether this database''s answers are counted (the library preloaded, apikeys.usage_tracking on, this database apikeys.database_name), when the usage writer last flushed and how long ago, the shared-memory slots used of keys and tenants, answers not counted and limited answers refused for lack of a slot, failed flushes, the writer''s process id, and whether the server log is redacted (the library preloaded: no key, token or secret in any log line).';

CREATE FUNCTION apikeys._notice_if_not_preloaded() RETURNS void
  LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT (SELECT s.logs_redacted FROM apikeys.usage_status() s) THEN
    RAISE NOTICE 'apikeys is not in shared_preload_libraries: log lines are not redacted (a statement that carries a key can log it), usage is not counted and rate limits cannot be set'
      USING HINT = 'Add apikeys to shared_preload_libraries in postgresql.conf and restart the server.';
  END IF;
END $$;
COMMENT ON FUNCTION apikeys._notice_if_not_preloaded() IS 'Raises a NOTICE when the library is not preloaded (CREATE EXTENSION and the update run it): the log is then not redacted, usage not counted, rate limits impossible.';
