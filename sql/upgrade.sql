-- Upgrade 1.0 -> 1.1 (the only path; CREATE EXTENSION installs 1.0 and applies it, so a
-- fresh install and an upgraded one have the same objects). Keys made by 1.0 keep their
-- random ids and keep verifying (through the client id index); keys made by 1.1 get the id
-- their client id determines (one primary-key probe); the tenant switch cache comes with
-- 1.1's tenants_changed trigger. Runs in a database of its own.
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
-- What 1.1 added, and what it changed.
SELECT tgname, tgenabled FROM pg_trigger
 WHERE tgrelid IN ('apikeys.keys'::regclass, 'apikeys.tenants'::regclass) AND tgname IN ('keys_id', 'tenants_changed')
 ORDER BY tgname;
SELECT column_default IS NULL AS key_id_has_no_default FROM information_schema.columns
 WHERE table_schema = 'apikeys' AND table_name = 'keys' AND column_name = 'key_id';
SELECT p.proname, p.proacl IS NOT NULL AND NOT EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee = 0) AS not_public
  FROM pg_proc p WHERE p.pronamespace = 'apikeys'::regnamespace AND p.proname IN ('_key_id', '_keys_id', '_tenants_changed')
 ORDER BY 1;
-- Every object of the update belongs to the extension.
SELECT count(*) AS loose_objects FROM pg_proc p
 WHERE p.pronamespace = 'apikeys'::regnamespace
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e');

\c :regress_db
DROP DATABASE apikeys_upgrade;
