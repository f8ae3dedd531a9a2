------------------------------------------------------------------------------------------
-- Events: recording, the NOTIFY payload, the append-only guard
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys.current_actor() RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_actor' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys.current_actor() IS 'The actor recorded for changes in this transaction: SET LOCAL apikeys.actor = ''user-42'', or the session user when it is unset.';

CREATE FUNCTION apikeys._event_payload(ev apikeys.events) RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_event_payload_v2' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys._event_payload(apikeys.events) IS 'The NOTIFY payload of an event: {"event_id", "action", "at", "tenant_id", "key_id", "key_set_id"}, ids as JSON strings (null when absent), the tenant id cut to 500 characters (null for an event of the installation). No name, owner, actor or secret: a listener reads the event row by its id with its own privileges.';

-- Called by the triggers and management functions (which run as the extension's owner):
-- not SECURITY DEFINER, so a role that may not insert events cannot forge one through it.
CREATE FUNCTION apikeys._record_event(tenant_id text, key_id bigint, key_set_id bigint, action text, details jsonb)
  RETURNS void AS 'MODULE_PATHNAME', 'apikeys_record_event' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys._record_event(text, bigint, bigint, text, jsonb) IS 'Records one event (the row''s id, time and actor come from the column defaults; a NULL tenant_id makes an event of the installation) and announces it with NOTIFY apikeys_events once committed (with shared_preload_libraries, sent by the usage writer just after the commit).';

CREATE FUNCTION apikeys._changes(old_row jsonb, new_row jsonb) RETURNS jsonb
  LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(jsonb_object_agg(n.key, jsonb_build_object('old', o.value, 'new', n.value)), '{}')
  FROM jsonb_each(new_row) n JOIN jsonb_each(old_row) o USING (key)
  WHERE n.value IS DISTINCT FROM o.value
    AND n.key NOT IN ('key_hash', 'hash_scheme', 'previous_hash', 'previous_hash_scheme',
                      'updated_at', 'updated_by', 'hint', 'last_used_at')
$$;
COMMENT ON FUNCTION apikeys._changes(jsonb, jsonb) IS 'old -> new for every changed column of a row, minus hashes, the hint, last_used_at and the updated_* columns: the details of an update event.';

CREATE FUNCTION apikeys._allow_event_purge(allowed boolean) RETURNS void
  AS 'MODULE_PATHNAME', 'apikeys_allow_event_purge' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION apikeys._allow_event_purge(boolean) IS 'Lets apikeys.purge() delete events in this transaction (a flag in backend memory, not a setting; cleared at transaction end and at the abort of the subtransaction that set it).';
CREATE FUNCTION apikeys._event_purge_allowed() RETURNS boolean
  AS 'MODULE_PATHNAME', 'apikeys_event_purge_allowed' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION apikeys._event_purge_allowed() IS 'Whether this transaction is inside apikeys.purge().';

CREATE FUNCTION apikeys._events_guard() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  -- purge() deletes events of tenants only: the installation's (signing keys, purge runs) stay.
  IF TG_OP = 'DELETE' AND apikeys._event_purge_allowed() AND OLD.tenant_id IS NOT NULL THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'apikeys.events is append-only'
    USING ERRCODE = 'object_not_in_prerequisite_state',
          HINT = 'Old events are removed by apikeys.purge() after the tenant''s event_retention.';
END $$;
COMMENT ON FUNCTION apikeys._events_guard() IS 'Trigger of apikeys.events: refuses UPDATE, DELETE and TRUNCATE, except the deletes of apikeys.purge() of events that have a tenant.';
CREATE TRIGGER events_before_guard BEFORE UPDATE OR DELETE ON apikeys.events
  FOR EACH ROW EXECUTE FUNCTION apikeys._events_guard();
CREATE TRIGGER events_before_guard_truncate BEFORE TRUNCATE ON apikeys.events
  FOR EACH STATEMENT EXECUTE FUNCTION apikeys._events_guard();
