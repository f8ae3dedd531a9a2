-- apikeys 1.0 -> 1.1: verify finds a key through the bigint primary key, and reads the
-- tenant switch from a backend cache that tenant changes invalidate.
\echo Use "ALTER EXTENSION apikeys UPDATE TO '1.1'" to load this file. \quit

-- The key id a client id determines: its 16 base62 digits as a number, mod 2^63 - 1, plus 1.
CREATE FUNCTION apikeys._key_id(client_id text) RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_key_id' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A new key's id is derived from its client id, so verify can probe the primary key (a
-- bigint comparison) instead of the client id's text index. Named to fire after
-- keys_before, which checks the client id's form. Keys made by 1.0 keep their random ids;
-- verify falls back to the client id index when the primary key does not hold the key.
-- Not ENABLE ALWAYS: pg_restore and logical replication bring the id with the row.
CREATE FUNCTION apikeys._keys_id() RETURNS trigger
  AS 'MODULE_PATHNAME', 'apikeys_keys_id' LANGUAGE C;
CREATE TRIGGER keys_id BEFORE INSERT ON apikeys.keys
  FOR EACH ROW EXECUTE FUNCTION apikeys._keys_id();
ALTER TABLE apikeys.keys ALTER COLUMN key_id DROP DEFAULT;

-- Every change of the tenants invalidates the tenant switch that backends cache for
-- verify (at commit, in every backend, and on hot standbys through the commit record).
-- ENABLE ALWAYS: it also fires for pg_restore and logical replication, which run as replica.
CREATE FUNCTION apikeys._tenants_changed() RETURNS trigger
  AS 'MODULE_PATHNAME', 'apikeys_relation_changed' LANGUAGE C;
CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON apikeys.tenants
  FOR EACH STATEMENT EXECUTE FUNCTION apikeys._tenants_changed();
ALTER TABLE apikeys.tenants ENABLE ALWAYS TRIGGER tenants_changed;

REVOKE ALL ON FUNCTION apikeys._key_id(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION apikeys._keys_id() FROM PUBLIC;
REVOKE ALL ON FUNCTION apikeys._tenants_changed() FROM PUBLIC;

-- The actor of the transaction as apikeys.current_actor() computes it, in C, for the column
-- defaults: they are evaluated on every insert, and a SQL function with a SET clause is
-- parsed and planned anew at each call (a third of create_key's cost in 1.0).
CREATE FUNCTION apikeys._actor() RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_actor' LANGUAGE C STABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION apikeys._actor() FROM PUBLIC;
ALTER TABLE apikeys.key_sets ALTER COLUMN created_by SET DEFAULT apikeys._actor(),
  ALTER COLUMN updated_by SET DEFAULT apikeys._actor();
ALTER TABLE apikeys.keys ALTER COLUMN created_by SET DEFAULT apikeys._actor(),
  ALTER COLUMN updated_by SET DEFAULT apikeys._actor();
ALTER TABLE apikeys.events ALTER COLUMN actor SET DEFAULT apikeys._actor();
-- A role that could evaluate the old defaults (EXECUTE on current_actor()) can evaluate the
-- new ones.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT a.grantee FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
     WHERE p.oid OPERATOR(pg_catalog.=) 'apikeys.current_actor()'::pg_catalog.regprocedure
       AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
       AND a.grantee OPERATOR(pg_catalog.<>) p.proowner AND a.grantee OPERATOR(pg_catalog.<>) 0
  LOOP
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION apikeys._actor() TO %I',
                              pg_catalog.pg_get_userbyid(r.grantee));
  END LOOP;
END $$;

-- The NOTIFY payload of an event, in C, with the same bytes as 1.0's json_build_object: it
-- was a SQL function with a SET clause, planned anew at each call. _record_event calls it
-- by name.
DROP FUNCTION apikeys._event_payload(apikeys.events, text);
CREATE FUNCTION apikeys._event_payload(ev apikeys.events, owner text) RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_event_payload' LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION apikeys._event_payload(apikeys.events, text) FROM PUBLIC;
