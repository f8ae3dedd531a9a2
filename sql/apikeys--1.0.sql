-- apikeys 1.0: API key management in plain SQL.
\echo Use "CREATE EXTENSION apikeys" to load this file. \quit

-- Every function below pins search_path; names outside pg_catalog are schema-qualified.

------------------------------------------------------------------------------------------
-- Types and C functions that the tables use
------------------------------------------------------------------------------------------

-- The answer of verify, authenticate and the token functions.
CREATE TYPE apikeys.verification AS (
  valid boolean,
  code text,
  key_id bigint,
  tenant_id text,
  owner text,
  key_set_id bigint,
  permissions text[],
  expires_at timestamptz
);

-- A random positive 63-bit id (no sequence: ids never collide across regions).
CREATE FUNCTION apikeys._random_id() RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_random_id' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;

-- The actor of the current transaction: SET LOCAL apikeys.actor, else the session user.
CREATE FUNCTION apikeys.current_actor() RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
  AS $$ SELECT coalesce(nullif(current_setting('apikeys.actor', true), ''), session_user::text) $$;

-- First element of perms that breaks the permission grammar (NULL if none).
CREATE FUNCTION apikeys._invalid_permission(perms text[]) RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_invalid_permission' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- First element of perms that no element of ceiling covers (NULL if none).
CREATE FUNCTION apikeys._uncovered_permission(perms text[], ceiling text[]) RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_uncovered_permission' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- True if the granted permissions cover the required one (exact, "res:*", "*").
CREATE FUNCTION apikeys.permission_covers(granted text[], required text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'apikeys_permission_covers' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A new key for a prefix (or a new secret for an existing client id): plaintext, hint, hash.
CREATE FUNCTION apikeys._generate_key(prefix text, client_id text DEFAULT NULL,
    OUT client_id text, OUT key text, OUT hint text, OUT key_hash bytea, OUT hash_scheme text)
  AS 'MODULE_PATHNAME', 'apikeys_generate_key' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- Counts that see every committed row (the latest snapshot), for limit checks that run
-- after the parent row is locked: correct under REPEATABLE READ and SERIALIZABLE too.
CREATE FUNCTION apikeys._count_key_sets(tenant_id text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_count_key_sets' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION apikeys._count_active_keys(key_set_id bigint) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_count_active_keys' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION apikeys._count_live_keys(tenant_id text, owner text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_count_live_keys' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

-- Lets apikeys.purge() delete events in this transaction (backend memory, not a setting).
CREATE FUNCTION apikeys._allow_event_purge(allowed boolean) RETURNS void
  AS 'MODULE_PATHNAME', 'apikeys_allow_event_purge' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION apikeys._event_purge_allowed() RETURNS boolean
  AS 'MODULE_PATHNAME', 'apikeys_event_purge_allowed' LANGUAGE C VOLATILE PARALLEL UNSAFE;

------------------------------------------------------------------------------------------
-- Tables
------------------------------------------------------------------------------------------

CREATE TABLE apikeys.tenants (
  -- Collation "C": ids compare as bytes, so verify's probe of this key costs no strcoll().
  tenant_id text COLLATE "C" PRIMARY KEY,
  enabled boolean NOT NULL DEFAULT true,
  max_key_sets integer NOT NULL DEFAULT 5,
  max_active_keys_per_set integer NOT NULL DEFAULT 5,
  max_keys_per_owner integer,
  max_expiry interval,
  default_expiry interval,
  retention interval,
  event_retention interval,
  key_prefix text NOT NULL DEFAULT 'ak',
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE TABLE apikeys.key_sets (
  key_set_id bigint PRIMARY KEY DEFAULT apikeys._random_id(),
  tenant_id text COLLATE "C" NOT NULL REFERENCES apikeys.tenants (tenant_id) ON DELETE CASCADE,
  name text NOT NULL,
  description text,
  permissions text[] NOT NULL DEFAULT '{}',
  owner text,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  created_by text NOT NULL DEFAULT apikeys.current_actor(),
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_by text NOT NULL DEFAULT apikeys.current_actor(),
  UNIQUE (key_set_id, tenant_id)
);
CREATE INDEX key_sets_tenant_idx ON apikeys.key_sets (tenant_id);

CREATE TABLE apikeys.keys (
  key_id bigint PRIMARY KEY DEFAULT apikeys._random_id(),
  client_id text COLLATE "C" NOT NULL UNIQUE,
  tenant_id text COLLATE "C" NOT NULL REFERENCES apikeys.tenants (tenant_id) ON DELETE CASCADE,
  key_set_id bigint,
  owner text,
  name text NOT NULL,
  description text,
  permissions text[] NOT NULL DEFAULT '{}',
  permissions_inherited boolean NOT NULL DEFAULT false,
  status text NOT NULL DEFAULT 'active',
  expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  created_by text NOT NULL DEFAULT apikeys.current_actor(),
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_by text NOT NULL DEFAULT apikeys.current_actor(),
  revoked_at timestamptz,
  revoked_by text,
  revoked_reason text,
  last_used_at timestamptz,
  hint text NOT NULL,
  key_hash bytea NOT NULL,
  hash_scheme text NOT NULL,
  previous_hash bytea,
  previous_hash_scheme text,
  previous_expires_at timestamptz,
  FOREIGN KEY (key_set_id, tenant_id) REFERENCES apikeys.key_sets (key_set_id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX keys_tenant_idx ON apikeys.keys (tenant_id, owner);
CREATE INDEX keys_key_set_idx ON apikeys.keys (key_set_id) WHERE key_set_id IS NOT NULL;

-- Append-only audit log; every row is also sent with NOTIFY apikeys_events.
CREATE TABLE apikeys.events (
  event_id bigint PRIMARY KEY DEFAULT apikeys._random_id(),
  at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  tenant_id text COLLATE "C" NOT NULL,
  key_id bigint,
  key_set_id bigint,
  actor text NOT NULL DEFAULT apikeys.current_actor(),
  action text NOT NULL,
  details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_tenant_at_idx ON apikeys.events (tenant_id, at DESC);
CREATE INDEX events_key_idx ON apikeys.events (key_id, at DESC) WHERE key_id IS NOT NULL;

SELECT pg_catalog.pg_extension_config_dump('apikeys.tenants', '');
SELECT pg_catalog.pg_extension_config_dump('apikeys.key_sets', '');
SELECT pg_catalog.pg_extension_config_dump('apikeys.keys', '');
SELECT pg_catalog.pg_extension_config_dump('apikeys.events', '');

------------------------------------------------------------------------------------------
-- Events
------------------------------------------------------------------------------------------

-- The NOTIFY payload of an event: ids, action, tenant, owner and actor, never a secret; each
-- name is cut to 1000 characters so the payload stays under NOTIFY's 8000 bytes.
CREATE FUNCTION apikeys._event_payload(ev apikeys.events, owner text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT json_build_object('event_id', ev.event_id, 'action', ev.action, 'at', ev.at,
    'tenant_id', left(ev.tenant_id, 500), 'key_id', ev.key_id, 'key_set_id', ev.key_set_id,
    'owner', left(owner, 500), 'actor', left(ev.actor, 500))::text
$$;

-- Records one event and notifies listeners at commit (NOTIFY is transactional).
CREATE FUNCTION apikeys._record_event(tenant_id text, key_id bigint, key_set_id bigint,
    action text, details jsonb, owner text)
  RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  ev apikeys.events;
BEGIN
  INSERT INTO apikeys.events (tenant_id, key_id, key_set_id, action, details)
  VALUES (tenant_id, key_id, key_set_id, action, coalesce(details, '{}'))
  RETURNING * INTO ev;
  PERFORM pg_notify('apikeys_events', apikeys._event_payload(ev, owner));
END $$;

-- old -> new for every changed column of a row, minus what must never be shown.
CREATE FUNCTION apikeys._changes(old_row jsonb, new_row jsonb) RETURNS jsonb
  LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(jsonb_object_agg(n.key, jsonb_build_object('old', o.value, 'new', n.value)), '{}')
  FROM jsonb_each(new_row) n JOIN jsonb_each(old_row) o USING (key)
  WHERE n.value IS DISTINCT FROM o.value
    AND n.key NOT IN ('key_hash', 'hash_scheme', 'previous_hash', 'previous_hash_scheme',
                      'updated_at', 'updated_by', 'hint', 'last_used_at')
$$;

-- Events are append-only: only apikeys.purge() deletes them, by retention.
CREATE FUNCTION apikeys._events_guard() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'DELETE' AND apikeys._event_purge_allowed() THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'apikeys.events is append-only'
    USING ERRCODE = 'object_not_in_prerequisite_state',
          HINT = 'Old events are removed by apikeys.purge() after the tenant''s event_retention.';
END $$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON apikeys.events
  FOR EACH ROW EXECUTE FUNCTION apikeys._events_guard();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON apikeys.events
  FOR EACH STATEMENT EXECUTE FUNCTION apikeys._events_guard();

------------------------------------------------------------------------------------------
-- Tenants: validation and events
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys._tenants_check() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  lim text;
  val integer;
BEGIN
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
  FOREACH lim IN ARRAY ARRAY['max_expiry', 'default_expiry', 'retention', 'event_retention'] LOOP
    IF (to_jsonb(NEW) ->> lim)::interval <= interval '0' THEN
      RAISE EXCEPTION 'tenant "%": % must be a positive interval (got %)', NEW.tenant_id, lim, to_jsonb(NEW) ->> lim
        USING ERRCODE = 'check_violation', HINT = 'Use a positive interval, or NULL for none.';
    END IF;
  END LOOP;
  IF NEW.default_expiry > NEW.max_expiry THEN
    RAISE EXCEPTION 'tenant "%": default_expiry % exceeds max_expiry %', NEW.tenant_id, NEW.default_expiry, NEW.max_expiry
      USING ERRCODE = 'check_violation', HINT = 'Lower default_expiry, or raise max_expiry.';
  END IF;
  IF NEW.key_prefix IS NULL OR NEW.key_prefix !~ '^[a-z0-9]{1,10}$' THEN
    RAISE EXCEPTION 'tenant "%": key_prefix must be 1 to 10 lower-case letters or digits', NEW.tenant_id
      USING ERRCODE = 'check_violation';
  END IF;
  IF TG_OP = 'UPDATE' THEN
    NEW.created_at := OLD.created_at;
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tenants_check BEFORE INSERT OR UPDATE ON apikeys.tenants
  FOR EACH ROW EXECUTE FUNCTION apikeys._tenants_check();

CREATE FUNCTION apikeys._tenants_event() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  changes jsonb;
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM apikeys._record_event(NEW.tenant_id, NULL, NULL, 'tenant_created',
      to_jsonb(NEW) - 'tenant_id' - 'created_at' - 'updated_at', NULL);
  ELSIF TG_OP = 'UPDATE' THEN
    changes := apikeys._changes(to_jsonb(OLD), to_jsonb(NEW));
    IF changes <> '{}' THEN
      PERFORM apikeys._record_event(NEW.tenant_id, NULL, NULL, 'tenant_updated', changes, NULL);
    END IF;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER tenants_event AFTER INSERT OR UPDATE ON apikeys.tenants
  FOR EACH ROW EXECUTE FUNCTION apikeys._tenants_event();

------------------------------------------------------------------------------------------
-- Key sets: validation, the per-tenant limit, the delete rule, permission propagation
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys._key_sets_before() RETURNS trigger
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
    NEW.updated_by := apikeys.current_actor();
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
CREATE TRIGGER key_sets_before BEFORE INSERT OR UPDATE OR DELETE ON apikeys.key_sets
  FOR EACH ROW EXECUTE FUNCTION apikeys._key_sets_before();

CREATE FUNCTION apikeys._key_sets_after() RETURNS trigger
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
      jsonb_build_object('name', NEW.name, 'permissions', NEW.permissions, 'owner', NEW.owner), NEW.owner);
  ELSIF TG_OP = 'UPDATE' THEN
    IF NEW.permissions IS DISTINCT FROM OLD.permissions THEN
      UPDATE apikeys.keys SET permissions = NEW.permissions
       WHERE key_set_id = NEW.key_set_id AND permissions_inherited
         AND permissions IS DISTINCT FROM NEW.permissions;
    END IF;
    changes := apikeys._changes(to_jsonb(OLD), to_jsonb(NEW));
    IF changes <> '{}' THEN
      PERFORM apikeys._record_event(NEW.tenant_id, NULL, NEW.key_set_id, 'key_set_updated', changes, NEW.owner);
    END IF;
  ELSE
    PERFORM apikeys._record_event(OLD.tenant_id, NULL, OLD.key_set_id, 'key_set_deleted',
      jsonb_build_object('name', OLD.name), OLD.owner);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER key_sets_after AFTER INSERT OR UPDATE OR DELETE ON apikeys.key_sets
  FOR EACH ROW EXECUTE FUNCTION apikeys._key_sets_after();

------------------------------------------------------------------------------------------
-- Keys: state rules, expiry policy, limits, events
------------------------------------------------------------------------------------------

CREATE FUNCTION apikeys._keys_before() RETURNS trigger
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
    NEW.updated_by := apikeys.current_actor();
    IF NEW.status = 'revoked' AND OLD.status <> 'revoked' THEN
      NEW.revoked_at := now();
      NEW.revoked_by := apikeys.current_actor();
    ELSIF OLD.status = 'revoked' THEN
      NEW.revoked_at := OLD.revoked_at;
      NEW.revoked_by := OLD.revoked_by;
    END IF;
  ELSE
    IF NEW.status = 'revoked' THEN
      NEW.revoked_at := coalesce(NEW.revoked_at, now());
      NEW.revoked_by := coalesce(NEW.revoked_by, apikeys.current_actor());
    END IF;
  END IF;
  IF NEW.client_id IS NULL OR NEW.client_id !~ '^[a-z0-9]{1,10}_[0-9A-Za-z]{16}$' THEN
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
CREATE TRIGGER keys_before BEFORE INSERT OR UPDATE ON apikeys.keys
  FOR EACH ROW EXECUTE FUNCTION apikeys._keys_before();

-- Limit checks run after the row is written, under a lock on the parent rows (the key set,
-- then the tenant: always in that order), counting with the latest snapshot, so that two
-- racing transactions can never both pass.
CREATE FUNCTION apikeys._keys_after() RETURNS trigger
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
  -- while not revoked and unexpired. Check only when this write makes it count (creation,
  -- activation, a move to another set or owner, an expiry pushed back into the future).
  counted := NEW.status = 'active' AND NEW.key_set_id IS NOT NULL
             AND (NEW.expires_at IS NULL OR NEW.expires_at > now());
  was_counted := TG_OP = 'UPDATE' AND OLD.status = 'active' AND (OLD.expires_at IS NULL OR OLD.expires_at > now())
                 AND OLD.key_set_id IS NOT DISTINCT FROM NEW.key_set_id;
  live := NEW.status <> 'revoked' AND (NEW.expires_at IS NULL OR NEW.expires_at > now());
  was_live := TG_OP = 'UPDATE' AND OLD.status <> 'revoked' AND (OLD.expires_at IS NULL OR OLD.expires_at > now())
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
CREATE TRIGGER keys_after AFTER INSERT OR UPDATE OR DELETE ON apikeys.keys
  FOR EACH ROW EXECUTE FUNCTION apikeys._keys_after();

------------------------------------------------------------------------------------------
-- Management functions
------------------------------------------------------------------------------------------

-- Creates a tenant with its limits and settings; returns the new row.
CREATE FUNCTION apikeys.create_tenant(tenant_id text, enabled boolean DEFAULT true,
    max_key_sets integer DEFAULT 5, max_active_keys_per_set integer DEFAULT 5,
    max_keys_per_owner integer DEFAULT NULL, max_expiry interval DEFAULT NULL,
    default_expiry interval DEFAULT NULL, retention interval DEFAULT NULL,
    key_prefix text DEFAULT 'ak', event_retention interval DEFAULT NULL)
  RETURNS apikeys.tenants LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t apikeys.tenants;
BEGIN
  INSERT INTO apikeys.tenants AS x (tenant_id, enabled, max_key_sets, max_active_keys_per_set,
      max_keys_per_owner, max_expiry, default_expiry, retention, key_prefix, event_retention)
  VALUES (create_tenant.tenant_id, create_tenant.enabled, create_tenant.max_key_sets,
      create_tenant.max_active_keys_per_set, create_tenant.max_keys_per_owner, create_tenant.max_expiry,
      create_tenant.default_expiry, create_tenant.retention, create_tenant.key_prefix,
      create_tenant.event_retention)
  RETURNING * INTO t;
  RETURN t;
EXCEPTION WHEN unique_violation THEN
  RAISE EXCEPTION 'tenant "%" already exists', create_tenant.tenant_id USING ERRCODE = 'unique_violation';
END $$;

-- Raises no_data_found unless the tenant exists.
CREATE FUNCTION apikeys._require_tenant(tenant_id text) RETURNS apikeys.tenants
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
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

-- Raises no_data_found unless the key exists; returns it locked for update.
CREATE FUNCTION apikeys._require_key(key_id bigint) RETURNS apikeys.keys
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
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

-- Raises no_data_found unless the key set exists.
CREATE FUNCTION apikeys._require_key_set(key_set_id bigint) RETURNS apikeys.key_sets
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
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

-- Creates a key set (a named group of keys with a permission ceiling); returns its id.
CREATE FUNCTION apikeys.create_key_set(tenant_id text, name text, permissions text[] DEFAULT '{}',
    owner text DEFAULT NULL, description text DEFAULT NULL)
  RETURNS bigint LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  id bigint;
BEGIN
  PERFORM apikeys._require_tenant(create_key_set.tenant_id);
  INSERT INTO apikeys.key_sets (tenant_id, name, permissions, owner, description)
  VALUES (create_key_set.tenant_id, create_key_set.name, coalesce(create_key_set.permissions, '{}'),
          create_key_set.owner, create_key_set.description)
  RETURNING key_set_id INTO id;
  RETURN id;
END $$;

-- Creates a key; the plaintext key is returned here and never again.
CREATE FUNCTION apikeys.create_key(tenant_id text, name text, owner text DEFAULT NULL,
    permissions text[] DEFAULT NULL, expires_in interval DEFAULT NULL, key_set_id bigint DEFAULT NULL,
    description text DEFAULT NULL)
  RETURNS TABLE (key_id bigint, client_id text, key text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t apikeys.tenants;
  s apikeys.key_sets;
  g record;
  id bigint;
BEGIN
  t := apikeys._require_tenant(create_key.tenant_id);
  IF create_key.key_set_id IS NOT NULL THEN
    s := apikeys._require_key_set(create_key.key_set_id);
    IF s.tenant_id <> t.tenant_id THEN
      RAISE EXCEPTION 'key set % does not exist in tenant "%"', create_key.key_set_id, t.tenant_id
        USING ERRCODE = 'no_data_found';
    END IF;
  END IF;
  IF create_key.expires_in <= interval '0' THEN
    RAISE EXCEPTION 'expires_in must be a positive interval (got %)', create_key.expires_in
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  g := apikeys._generate_key(t.key_prefix);
  INSERT INTO apikeys.keys AS k (client_id, tenant_id, key_set_id, owner, name, description, permissions,
      permissions_inherited, expires_at, hint, key_hash, hash_scheme)
  VALUES (g.client_id, t.tenant_id, create_key.key_set_id, create_key.owner, create_key.name,
      create_key.description, coalesce(create_key.permissions, s.permissions, '{}'),
      create_key.permissions IS NULL AND create_key.key_set_id IS NOT NULL,
      now() + create_key.expires_in, g.hint, g.key_hash, g.hash_scheme)
  RETURNING k.key_id INTO id;
  RETURN QUERY SELECT id, g.client_id, g.key;
END $$;

-- Changes a key's name, permissions or description (NULL leaves a field as it is).
CREATE FUNCTION apikeys.update_key(key_id bigint, name text DEFAULT NULL, permissions text[] DEFAULT NULL,
    description text DEFAULT NULL)
  RETURNS void LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM apikeys._require_key(update_key.key_id);
  UPDATE apikeys.keys k
     SET name = coalesce(update_key.name, k.name),
         permissions = coalesce(update_key.permissions, k.permissions),
         permissions_inherited = k.permissions_inherited AND update_key.permissions IS NULL,
         description = coalesce(update_key.description, k.description)
   WHERE k.key_id = update_key.key_id;
END $$;

-- Changes a key set's name, permissions or description; keys that inherit follow.
CREATE FUNCTION apikeys.update_key_set(key_set_id bigint, name text DEFAULT NULL,
    permissions text[] DEFAULT NULL, description text DEFAULT NULL)
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
         description = coalesce(update_key_set.description, s.description)
   WHERE s.key_set_id = update_key_set.key_set_id;
END $$;

-- Sets a key's status to active or inactive (the triggers enforce the rules).
CREATE FUNCTION apikeys._set_status(key_id bigint, status text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
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

-- Makes an inactive key active again (obeys the active-keys limit of its set).
CREATE FUNCTION apikeys.activate_key(key_id bigint) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT apikeys._set_status(activate_key.key_id, 'active') $$;

-- Makes a key inactive (reversible): it answers INACTIVE until activated.
CREATE FUNCTION apikeys.deactivate_key(key_id bigint) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT apikeys._set_status(deactivate_key.key_id, 'inactive') $$;

-- Revokes keys, all or nothing; returns how many were revoked.
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

-- Revokes a key: irreversible; only an active or inactive key can be revoked.
CREATE FUNCTION apikeys.revoke_key(key_id bigint, reason text DEFAULT NULL) RETURNS void
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT apikeys.revoke_keys(ARRAY[revoke_key.key_id], revoke_key.reason) $$;

-- Deletes a key (its events stay).
CREATE FUNCTION apikeys.delete_key(key_id bigint) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM apikeys._require_key(delete_key.key_id);
  DELETE FROM apikeys.keys k WHERE k.key_id = delete_key.key_id;
END $$;

-- Deletes a key set and its keys; refused while any key of the set is active.
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

-- Gives a key a new secret (same client id); the old one keeps working until now() + grace,
-- never past the key's expiry. Returns the new key, shown once.
CREATE FUNCTION apikeys._roll_key(p_key_id bigint, grace interval, OUT client_id text, OUT key text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k apikeys.keys;
  g record;
BEGIN
  IF grace IS NULL OR grace < interval '0' THEN
    RAISE EXCEPTION 'grace must be zero or a positive interval (got %)', coalesce(grace::text, 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  k := apikeys._require_key(p_key_id);
  IF k.status = 'revoked' THEN
    RAISE EXCEPTION 'key % ("%") is revoked and cannot be rolled', k.key_id, k.name
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Revocation is irreversible: create a new key.';
  END IF;
  g := apikeys._generate_key(split_part(k.client_id, '_', 1), k.client_id);
  UPDATE apikeys.keys x
     SET previous_hash = CASE WHEN grace > interval '0' THEN x.key_hash END,
         previous_hash_scheme = CASE WHEN grace > interval '0' THEN x.hash_scheme END,
         previous_expires_at = CASE WHEN grace > interval '0' THEN least(now() + grace, x.expires_at) END,
         key_hash = g.key_hash, hash_scheme = g.hash_scheme, hint = g.hint
   WHERE x.key_id = p_key_id;
  client_id := k.client_id;
  key := g.key;
END $$;

CREATE FUNCTION apikeys.roll_key(key_id bigint, grace interval DEFAULT '24 hours')
  RETURNS TABLE (key_id bigint, client_id text, key text)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$ SELECT $1, r.client_id, r.key FROM apikeys._roll_key($1, $2) r $$;

-- Deletes keys expired or revoked longer ago than their tenant's retention, and events older
-- than its event_retention; returns the number of keys deleted.
CREATE FUNCTION apikeys.purge(as_of timestamptz DEFAULT now()) RETURNS bigint
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  n bigint;
BEGIN
  IF as_of IS NULL THEN
    RAISE EXCEPTION 'as_of must not be NULL' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM apikeys._allow_event_purge(true);
  -- Rows are locked in key_id order, as delete_key_set and update_key_set lock theirs.
  WITH doomed AS (
    SELECT k.key_id FROM apikeys.keys k JOIN apikeys.tenants t ON t.tenant_id = k.tenant_id
     WHERE t.retention IS NOT NULL
       AND (k.revoked_at <= as_of - t.retention OR k.expires_at <= as_of - t.retention)
     ORDER BY k.key_id FOR UPDATE OF k),
  gone AS (
    DELETE FROM apikeys.keys k USING doomed d WHERE k.key_id = d.key_id
    RETURNING 1)
  SELECT count(*) INTO n FROM gone;
  DELETE FROM apikeys.events e USING apikeys.tenants t
   WHERE t.tenant_id = e.tenant_id AND t.event_retention IS NOT NULL AND e.at <= as_of - t.event_retention;
  PERFORM apikeys._allow_event_purge(false);
  RETURN n;
END $$;

-- Keys of a tenant, newest first; query matches name, key id, client id and owner.
CREATE FUNCTION apikeys.search_keys(tenant_id text, query text DEFAULT NULL)
  RETURNS TABLE (key_id bigint, client_id text, name text, owner text, key_set_id bigint, status text,
                 hint text, permissions text[], updated_at timestamptz, created_at timestamptz,
                 expires_at timestamptz, last_used_at timestamptz)
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  pattern text := '%' || replace(replace(replace(search_keys.query, '\', '\\'), '%', '\%'), '_', '\_') || '%';
BEGIN
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

------------------------------------------------------------------------------------------
-- Verification and the transaction's binding (C; read-only; work on a hot standby)
------------------------------------------------------------------------------------------

-- Checks a presented key and answers with a code; never raises for a bad key.
CREATE FUNCTION apikeys.verify(key text, required text[] DEFAULT NULL) RETURNS apikeys.verification
  AS 'MODULE_PATHNAME', 'apikeys_verify' LANGUAGE C STABLE PARALLEL SAFE;

-- Verifies, and on VALID binds the key to the current transaction for the RLS helpers.
CREATE FUNCTION apikeys.authenticate(key text, required text[] DEFAULT NULL) RETURNS apikeys.verification
  AS 'MODULE_PATHNAME', 'apikeys_authenticate' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The RLS helpers: what authenticate bound in this transaction (NULL/false if nothing).
CREATE FUNCTION apikeys.current_key_id() RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_current_key_id' LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION apikeys.current_tenant() RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_current_tenant' LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION apikeys.current_owner() RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_current_owner' LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION apikeys.current_key_set_id() RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_current_key_set_id' LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION apikeys.current_permissions() RETURNS text[]
  AS 'MODULE_PATHNAME', 'apikeys_current_permissions' LANGUAGE C STABLE PARALLEL RESTRICTED;
CREATE FUNCTION apikeys.has_permission(permission text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'apikeys_has_permission' LANGUAGE C STABLE PARALLEL RESTRICTED;

------------------------------------------------------------------------------------------
-- Access tokens: client credentials -> signed JWT (signing keys, issue, verify)
------------------------------------------------------------------------------------------

-- The keys that sign access tokens. HS256: a secret of at least 256 random bits; EdDSA: a
-- raw Ed25519 private key (secret) and its public key. One non-retired key is current (it
-- signs new tokens); every non-retired key verifies the tokens it signed; a retired key
-- verifies nothing. No role but the owner reads it: the secrets never leave the database.
CREATE TABLE apikeys.signing_keys (
  kid text COLLATE "C" PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{1,64}$'),
  alg text NOT NULL CHECK (alg IN ('HS256', 'EdDSA')),
  secret bytea NOT NULL,
  public_key bytea,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  retired_at timestamptz,
  is_current boolean NOT NULL DEFAULT false,
  CONSTRAINT signing_keys_material CHECK (
    (alg = 'HS256' AND pg_catalog.length(secret) >= 32 AND public_key IS NULL)
    OR (alg = 'EdDSA' AND pg_catalog.length(secret) = 32 AND pg_catalog.length(public_key) = 32)),
  CONSTRAINT signing_keys_current_not_retired CHECK (NOT (is_current AND retired_at IS NOT NULL))
);
CREATE UNIQUE INDEX signing_keys_one_current ON apikeys.signing_keys (is_current) WHERE is_current;
SELECT pg_catalog.pg_extension_config_dump('apikeys.signing_keys', '');

-- Making a key current un-marks the previous one. ENABLE ALWAYS: it also fires when
-- pg_restore loads the table under session_replication_role = replica, so the restored
-- current key takes over from the one CREATE EXTENSION made (which stays, unused).
CREATE FUNCTION apikeys._signing_keys_before() RETURNS trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE apikeys.signing_keys s SET is_current = false WHERE s.is_current AND s.kid <> NEW.kid;
  RETURN NEW;
END $$;
CREATE TRIGGER signing_keys_before BEFORE INSERT OR UPDATE OF is_current ON apikeys.signing_keys
  FOR EACH ROW WHEN (NEW.is_current) EXECUTE FUNCTION apikeys._signing_keys_before();
ALTER TABLE apikeys.signing_keys ENABLE ALWAYS TRIGGER signing_keys_before;

-- Every change invalidates the signing keys that backends cache for verify_token (at
-- commit, in every backend, and on hot standbys through the commit record).
CREATE FUNCTION apikeys._signing_keys_changed() RETURNS trigger
  AS 'MODULE_PATHNAME', 'apikeys_signing_keys_changed' LANGUAGE C;
CREATE TRIGGER signing_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON apikeys.signing_keys
  FOR EACH STATEMENT EXECUTE FUNCTION apikeys._signing_keys_changed();
ALTER TABLE apikeys.signing_keys ENABLE ALWAYS TRIGGER signing_keys_changed;

-- New key material from the CSPRNG: a random kid, and a 256-bit secret or an Ed25519 pair.
CREATE FUNCTION apikeys._new_signing_key(alg text, OUT kid text, OUT secret bytea, OUT public_key bytea)
  AS 'MODULE_PATHNAME', 'apikeys_new_signing_key' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

-- Adds a signing key and returns its kid. With make_current it signs every new token from
-- now on, and the previous current key keeps verifying its tokens until it is retired.
CREATE FUNCTION apikeys.add_signing_key(alg text DEFAULT 'HS256', make_current boolean DEFAULT true)
  RETURNS text LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  g record;
BEGIN
  IF add_signing_key.alg IS NULL OR add_signing_key.alg NOT IN ('HS256', 'EdDSA') THEN
    RAISE EXCEPTION 'signing algorithm must be HS256 or EdDSA (got %)',
      coalesce('"' || add_signing_key.alg || '"', 'NULL') USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Key management is serialised; verify_token's reads are not blocked.
  LOCK TABLE apikeys.signing_keys IN SHARE ROW EXCLUSIVE MODE;
  g := apikeys._new_signing_key(add_signing_key.alg);
  INSERT INTO apikeys.signing_keys (kid, alg, secret, public_key, is_current)
  VALUES (g.kid, add_signing_key.alg, g.secret, g.public_key, coalesce(add_signing_key.make_current, true));
  RETURN g.kid;
END $$;

-- Raises no_data_found unless the signing key exists; returns it.
CREATE FUNCTION apikeys._require_signing_key(kid text) RETURNS apikeys.signing_keys
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k apikeys.signing_keys;
BEGIN
  LOCK TABLE apikeys.signing_keys IN SHARE ROW EXCLUSIVE MODE;
  SELECT * INTO k FROM apikeys.signing_keys s WHERE s.kid = _require_signing_key.kid;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'signing key "%" does not exist', coalesce(_require_signing_key.kid, 'NULL')
      USING ERRCODE = 'no_data_found';
  END IF;
  RETURN k;
END $$;

-- Makes a non-retired key the one that signs new tokens.
CREATE FUNCTION apikeys.set_current_signing_key(kid text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k apikeys.signing_keys;
BEGIN
  k := apikeys._require_signing_key(set_current_signing_key.kid);
  IF k.retired_at IS NOT NULL THEN
    RAISE EXCEPTION 'signing key "%" is retired and cannot become current', k.kid
      USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'Add a new key with apikeys.add_signing_key().';
  END IF;
  IF NOT k.is_current THEN
    UPDATE apikeys.signing_keys s SET is_current = true WHERE s.kid = k.kid;
  END IF;
END $$;

-- Retires a key: the tokens it signed answer UNKNOWN_KEY from now on. Irreversible; the
-- current key cannot be retired.
CREATE FUNCTION apikeys.retire_signing_key(kid text) RETURNS void
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k apikeys.signing_keys;
BEGIN
  k := apikeys._require_signing_key(retire_signing_key.kid);
  IF k.is_current THEN
    RAISE EXCEPTION 'signing key "%" is the current key and cannot be retired', k.kid
      USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Make another key current first (apikeys.add_signing_key() or apikeys.set_current_signing_key()).';
  END IF;
  IF k.retired_at IS NOT NULL THEN
    RAISE EXCEPTION 'signing key "%" is already retired', k.kid USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  UPDATE apikeys.signing_keys s SET retired_at = now() WHERE s.kid = k.kid;
END $$;

-- The public keys of the non-retired EdDSA signing keys as a JWK Set (RFC 7517; OKP keys of
-- RFC 8037), for verifiers outside the database. HS256 keys are secret and never listed.
CREATE FUNCTION apikeys.jwks() RETURNS jsonb
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
  SELECT jsonb_build_object('keys', coalesce(jsonb_agg(jsonb_build_object(
           'kty', 'OKP', 'crv', 'Ed25519', 'alg', 'EdDSA', 'use', 'sig', 'kid', k.kid,
           'x', rtrim(translate(encode(k.public_key, 'base64'), E'+/\n', '-_'), '='))
           ORDER BY k.created_at, k.kid), '[]'::jsonb))
    FROM apikeys.signing_keys k
   WHERE k.alg = 'EdDSA' AND k.retired_at IS NULL
$$;

-- Exchanges client credentials (the key's client id, and the whole key as the secret) for
-- an access token signed with the current signing key; lifetime ttl, at most 24 hours and
-- never past the key's expiry. Refuses a key that apikeys.verify would not call VALID
-- (28000); its errors never hold the secret and hide the statement from the server log.
CREATE FUNCTION apikeys.issue_token(client_id text, client_secret text, ttl interval DEFAULT '8 hours')
  RETURNS text AS 'MODULE_PATHNAME', 'apikeys_issue_token' LANGUAGE C VOLATILE PARALLEL SAFE;

-- Checks an access token without reading any table (signature, pinned algorithm, exp,
-- nbf/iat, issuer); with check_revocation also the key's current state. Never raises for
-- a bad token.
CREATE FUNCTION apikeys.verify_token(token text, check_revocation boolean DEFAULT false)
  RETURNS apikeys.verification AS 'MODULE_PATHNAME', 'apikeys_verify_token' LANGUAGE C STABLE PARALLEL SAFE;

-- Verifies a token and, on VALID, binds its key to the transaction for the RLS helpers.
CREATE FUNCTION apikeys.authenticate_token(token text) RETURNS apikeys.verification
  AS 'MODULE_PATHNAME', 'apikeys_authenticate_token' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The first signing key: HS256, current.
SELECT apikeys.add_signing_key('HS256', true);

------------------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC (see README for the app and admin grants)
------------------------------------------------------------------------------------------

REVOKE ALL ON SCHEMA apikeys FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA apikeys FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA apikeys FROM PUBLIC;
REVOKE ALL ON TYPE apikeys.verification FROM PUBLIC;
