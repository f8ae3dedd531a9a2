-- Privileges: nothing for PUBLIC; the app role verifies only; the admin role manages
-- but never reads hashes; SECURITY DEFINER functions pin search_path.
SELECT count(*) AS public_function_grants FROM pg_proc p
  WHERE p.pronamespace = 'apikeys'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE');
SELECT c.relname, has_table_privilege('public', c.oid, 'SELECT') AS public_select
  FROM pg_class c WHERE c.relnamespace = 'apikeys'::regnamespace AND c.relkind = 'r' ORDER BY 1;
SELECT has_schema_privilege('public', 'apikeys', 'USAGE') AS public_usage;
-- Every SECURITY DEFINER function pins search_path.
SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'apikeys'::regnamespace AND p.prosecdef
  AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false);
-- RLS helpers are not parallel safe.
SELECT proname, provolatile, proparallel FROM pg_proc
  WHERE pronamespace = 'apikeys'::regnamespace AND proname ~ '^(current_|has_permission|authenticate|verify)' ORDER BY 1;

SELECT * FROM apikeys.create_tenant('initech') \gset
SELECT key_id, key FROM apikeys.create_key('initech', 'k') \gset

-- A role with no grant at all.
CREATE ROLE apikeys_nobody;
SET ROLE apikeys_nobody;
SELECT err($$SELECT apikeys.verify('x')$$);
SELECT err($$SELECT * FROM apikeys.keys$$);
RESET ROLE;

-- The app role.
SET ROLE apikeys_app;
SELECT code FROM apikeys.verify(:'key');
SELECT err($$SELECT * FROM apikeys.keys$$);
SELECT err($$SELECT key_hash FROM apikeys.keys$$);
SELECT err($$SELECT * FROM apikeys.tenants$$);
SELECT err($$SELECT * FROM apikeys.events$$);
SELECT err($$SELECT apikeys.create_key('initech', 'x')$$);
SELECT err($$SELECT apikeys.create_tenant('x')$$);
SELECT err(format('SELECT apikeys.revoke_key(%s)', :key_id));
SELECT err($$SELECT apikeys._generate_key('ak')$$);
SELECT err($$SELECT apikeys._count_key_sets('initech')$$);
SELECT err($$SELECT apikeys._allow_event_purge(true)$$);
SELECT err($$INSERT INTO apikeys.tenants (tenant_id) VALUES ('x')$$);
RESET ROLE;

-- The admin role.
SET ROLE apikeys_admin;
SELECT key_id AS k2 FROM apikeys.create_key('initech', 'by admin') \gset
SELECT name, created_by FROM apikeys.keys WHERE key_id = :k2;
SELECT err($$SELECT key_hash FROM apikeys.keys$$);
SELECT err($$SELECT * FROM apikeys.keys$$);
SELECT err($$SELECT previous_hash FROM apikeys.keys$$);
SELECT err($$DELETE FROM apikeys.keys$$);
SELECT err($$UPDATE apikeys.events SET action = 'x'$$);
UPDATE apikeys.tenants SET max_key_sets = 3 WHERE tenant_id = 'initech';
SELECT max_key_sets FROM apikeys.tenants WHERE tenant_id = 'initech';
SELECT apikeys.revoke_key(:k2);
SELECT code FROM apikeys.verify(:'key');
SELECT err($$SELECT apikeys._generate_key('ak')$$);
RESET ROLE;

-- A DBA's role that writes keys with plain SQL (UPDATE and DELETE on the table, EXECUTE on
-- the actor function its defaults call, nothing else): the triggers still validate, lock,
-- count and record the events, with the table owner's rights.
CREATE ROLE apikeys_writer;
GRANT USAGE ON SCHEMA apikeys TO apikeys_writer;
GRANT SELECT (key_id, name, status), UPDATE (name, status), DELETE ON apikeys.keys TO apikeys_writer;
GRANT EXECUTE ON FUNCTION apikeys._actor() TO apikeys_writer;
SELECT key_id AS k3 FROM apikeys.create_key('initech', 'for the writer') \gset
SET ROLE apikeys_writer;
UPDATE apikeys.keys SET name = 'renamed by the writer' WHERE key_id = :k3;
SELECT err(format('UPDATE apikeys.keys SET status = %L WHERE key_id = %s', 'lost', :k3));
UPDATE apikeys.keys SET status = 'revoked' WHERE key_id = :k3;
DELETE FROM apikeys.keys WHERE key_id = :k3;
SELECT err($$SELECT * FROM apikeys.events$$);
RESET ROLE;
SELECT action, actor = session_user AS by_session_user, details - 'client_id' - 'revoked_at' AS details
  FROM apikeys.events WHERE key_id = :k3 ORDER BY at;
DROP OWNED BY apikeys_writer;
DROP ROLE apikeys_writer;
DROP ROLE apikeys_nobody;
