-- Updates 1.0 -> 1.1 -> 1.2 with keys of every version. Keys made by 1.0 keep their random
-- ids and keep verifying (through the client id index); keys made since 1.1 get the id
-- their client id determines (one primary-key probe); the tenant switch cache comes with
-- 1.1's invalidation trigger. (The schema test compares an updated database with a fresh
-- one object by object.) Runs in a database of its own.
\set regress_db :DBNAME
CREATE DATABASE apikeys_upgrade;
\c apikeys_upgrade
SET client_min_messages = warning;
CREATE EXTENSION apikeys VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'apikeys';
SELECT count(*) FROM apikeys.create_tenant('acme');
SELECT key_id AS old_id, client_id AS old_client, key AS old_key FROM apikeys.create_key('acme', 'old') \gset

-- This library with the 1.0 schema: verify finds the key through the client id index, and
-- reads the tenant switch from the table (no trigger keeps a cache right).
SELECT code, key_id = :old_id AS same_key FROM apikeys.verify(:'old_key');
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'acme';
SELECT code FROM apikeys.verify(:'old_key');
UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'acme';
SELECT code FROM apikeys.verify(:'old_key');

-- 1.0's NOTIFY payloads, to compare with 1.1's: quotes, control characters, multibyte
-- owners and actors longer than the 500 characters a payload keeps, a NULL owner.
SELECT count(*) FROM apikeys.create_tenant(E'q"uo\\te\n' || repeat('é', 190));
BEGIN;
SELECT count(*) FROM set_config('apikeys.actor', E'act"or\t' || repeat('ü', 700), true);
SELECT count(*) FROM apikeys.create_key(E'q"uo\\te\n' || repeat('é', 190), 'odd', owner => repeat('ø', 800));
COMMIT;
CREATE TABLE payloads_10 AS
  SELECT e.event_id, o.owner, apikeys._event_payload(e, o.owner) AS payload
  FROM apikeys.events e, (VALUES (NULL), ('alice'), (E'b"ob\\' || repeat('ø', 800))) o(owner);
-- Roles that may evaluate the column defaults keep that right.
CREATE ROLE upgrade_actor;
CREATE ROLE upgrade_other;
GRANT EXECUTE ON FUNCTION apikeys.current_actor() TO upgrade_actor;

ALTER EXTENSION apikeys UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'apikeys';
SELECT code, key_id = :old_id AS same_key FROM apikeys.verify(:'old_key');
SELECT key_id AS new_id, client_id AS new_client, key AS new_key FROM apikeys.create_key('acme', 'new') \gset
SELECT :new_id = apikeys._key_id(:'new_client') AS new_derived, :old_id = apikeys._key_id(:'old_client') AS old_derived;
SELECT code, key_id = :new_id AS same_key FROM apikeys.verify(:'new_key');
-- Rolling the old key keeps its id and client id; the new secret verifies.
SELECT key AS rolled FROM apikeys.roll_key(:old_id, '0') \gset
SELECT code, key_id = :old_id AS same_key FROM apikeys.verify(:'rolled');
SELECT code FROM apikeys.verify(:'old_key');
-- The tenant switch, now cached: a disable reaches old and new keys alike.
SELECT code FROM apikeys.verify(:'new_key');
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'acme';
SELECT code FROM apikeys.verify(:'new_key');
SELECT code FROM apikeys.verify(:'rolled');
UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'acme';
SELECT code FROM apikeys.verify(:'new_key');
-- The payload is byte for byte 1.0's.
SELECT count(*) AS payloads, count(*) FILTER (WHERE apikeys._event_payload(e, p.owner) = p.payload) AS same,
       max(length(p.payload::json ->> 'owner')) AS longest_owner, max(length(p.payload::json ->> 'actor')) AS longest_actor
  FROM payloads_10 p JOIN apikeys.events e USING (event_id);
SELECT has_function_privilege('upgrade_actor', 'apikeys._actor()', 'EXECUTE') AS actor_kept,
       has_function_privilege('upgrade_other', 'apikeys._actor()', 'EXECUTE') AS other_has_none;
-- The defaults record the same actor as before.
BEGIN;
SET LOCAL apikeys.actor = 'user-42';
SELECT key_id AS k42 FROM apikeys.create_key('acme', 'by42') \gset
SELECT created_by, updated_by FROM apikeys.keys WHERE key_id = :k42;
SELECT actor FROM apikeys.events WHERE action = 'created' AND details ->> 'name' = 'by42';
COMMIT;
SELECT apikeys._actor() = session_user::text AS actor_is_session_user, apikeys._actor() = apikeys.current_actor() AS same_rule;
-- What 1.1 added, and what it changed.
SELECT tgname, tgenabled FROM pg_trigger
 WHERE tgrelid IN ('apikeys.keys'::regclass, 'apikeys.tenants'::regclass) AND tgname IN ('keys_id', 'tenants_changed')
 ORDER BY tgname;
SELECT column_default IS NULL AS key_id_has_no_default FROM information_schema.columns
 WHERE table_schema = 'apikeys' AND table_name = 'keys' AND column_name = 'key_id';
SELECT p.proname, p.proacl IS NOT NULL AND NOT EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS not_public
  FROM pg_proc p WHERE p.pronamespace = 'apikeys'::regnamespace
   AND p.proname IN ('_key_id', '_keys_id', '_tenants_changed', '_actor', '_event_payload')
 ORDER BY 1;
-- Every object of the update belongs to the extension.
SELECT count(*) AS loose_objects FROM pg_proc p
 WHERE p.pronamespace = 'apikeys'::regnamespace
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e');

-- 1.1 -> 1.2: keys of both versions keep verifying, grants stay, the renamed helper keeps
-- its grants, the tenant cache keeps working under its new trigger.
GRANT EXECUTE ON FUNCTION apikeys._key_id(text) TO upgrade_actor;
-- Grants on the functions whose signatures change, and on the keys table it rewrites.
GRANT EXECUTE ON FUNCTION apikeys.verify(text, text[]), apikeys.authenticate(text, text[]),
  apikeys.create_key(text, text, text, text[], interval, bigint, text) TO upgrade_actor;
GRANT SELECT (key_id, name, status) ON apikeys.keys TO upgrade_actor;
GRANT SELECT ON apikeys.keys TO upgrade_other;
SELECT count(*) AS keys_before, count(*) FILTER (WHERE status = 'active') AS active_before FROM apikeys.keys \gset
ALTER EXTENSION apikeys UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'apikeys';
SELECT code, key_id = :old_id AS same_key FROM apikeys.verify(:'rolled');
SELECT code, key_id = :new_id AS same_key FROM apikeys.verify(:'new_key');
SELECT key_id AS v12_id, client_id AS v12_client, key AS v12_key FROM apikeys.create_key('acme', 'v12') \gset
SELECT code, key_id = apikeys._key_id_of(:'v12_client') AS derived FROM apikeys.verify(:'v12_key');
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'acme';
SELECT code FROM apikeys.verify(:'v12_key');
SELECT code FROM apikeys.verify(:'rolled');
UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'acme';
SELECT code FROM apikeys.verify(:'v12_key');
SELECT has_function_privilege('upgrade_actor', 'apikeys._key_id_of(text)', 'EXECUTE') AS renamed_kept,
       has_function_privilege('upgrade_actor', 'apikeys._actor()', 'EXECUTE') AS actor_kept,
       has_function_privilege('upgrade_other', 'apikeys._key_id_of(text)', 'EXECUTE') AS other_has_none;
SELECT has_function_privilege('upgrade_actor', 'apikeys.verify(text, text[], inet)', 'EXECUTE') AS verify_kept,
       has_function_privilege('upgrade_actor', 'apikeys.authenticate(text, text[], inet)', 'EXECUTE') AS authenticate_kept,
       has_function_privilege('upgrade_actor',
         'apikeys.create_key(text, text, text, text[], interval, bigint, text, cidr[], integer, interval)', 'EXECUTE') AS create_kept,
       has_function_privilege('upgrade_other', 'apikeys.verify(text, text[], inet)', 'EXECUTE') AS other_has_none;
-- The rewritten keys table: the same rows, the same grants (table and columns).
SELECT count(*) = :keys_before AS same_keys, count(*) FILTER (WHERE status = 'active') = :active_before AS same_active
  FROM apikeys.keys WHERE key_id <> :v12_id;
SELECT has_column_privilege('upgrade_actor', 'apikeys.keys', 'name', 'SELECT') AS column_kept,
       has_column_privilege('upgrade_actor', 'apikeys.keys', 'key_hash', 'SELECT') AS hash_not_given,
       has_table_privilege('upgrade_other', 'apikeys.keys', 'SELECT') AS table_kept;
SELECT count(*) AS old_tables FROM pg_class WHERE relnamespace = 'apikeys'::regnamespace AND relname ~ '_1_1';
-- The callers of 1.1 verify as before, as the role that held the grant.
SET ROLE upgrade_actor;
SELECT code FROM apikeys.verify(:'v12_key');
SELECT code FROM apikeys.verify(:'v12_key', '{}');
RESET ROLE;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'apikeys.tenants'::regclass AND NOT tgisinternal ORDER BY 1;
-- Since 1.2 the payload names no person and writes the ids as strings; the event rows
-- keep everything the 1.0 payloads showed.
SELECT count(DISTINCT p.event_id) AS events,
       count(*) FILTER (WHERE apikeys._event_payload(e)::json ->> 'event_id' = e.event_id::text) AS ids_as_strings,
       count(*) FILTER (WHERE apikeys._event_payload(e)::json ->> 'owner' IS NULL
                          AND apikeys._event_payload(e)::json ->> 'actor' IS NULL) AS no_person,
       count(*) FILTER (WHERE p.payload::json ->> 'actor' = left(e.actor, 500)) AS actor_in_row
  FROM payloads_10 p JOIN apikeys.events e USING (event_id);
SELECT count(*) AS loose_objects FROM pg_proc p
 WHERE p.pronamespace = 'apikeys'::regnamespace
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e');

\c :regress_db
DROP DATABASE apikeys_upgrade;
DROP ROLE upgrade_actor;
DROP ROLE upgrade_other;
