-- The key lifecycle in twelve steps, as an app server and a DBA would run it.
\set QUIET on
\pset footer off
\set ECHO none
\echo '1. Install the extension and create a tenant (DBAs cap what it may hold).'
CREATE EXTENSION apikeys;
SELECT tenant_id, enabled, max_key_sets, max_active_keys_per_set, max_keys_per_owner
  FROM apikeys.create_tenant('acme', max_keys_per_owner => 3);

\echo '2. A key set: a named group of keys with a permission ceiling.'
SELECT apikeys.create_key_set('acme', 'reporting', '{reports:*,users:read}') AS set_id \gset
SELECT name, permissions FROM apikeys.key_sets WHERE key_set_id = :set_id;

\echo '3. Create a key for user alice. The plaintext is shown here, once, and never again.'
SET apikeys.actor = 'admin-7';
SELECT key_id, client_id, key FROM apikeys.create_key('acme', 'alice laptop', owner => 'alice',
  key_set_id => :set_id, expires_in => '90 days') \gset
\echo '   key:' :key
\echo '   The database keeps only its SHA-256 hash and a hint:'
SELECT name, owner, status, hint, hash_scheme, permissions FROM apikeys.keys WHERE key_id = :key_id;

\echo '4. On every request the app server verifies the key:'
SELECT valid, code, tenant_id, owner, permissions FROM apikeys.verify(:'key');
\echo '   ... and may require permissions ("reports:*" covers "reports:read"):'
SELECT code FROM apikeys.verify(:'key', '{reports:read}');
SELECT code FROM apikeys.verify(:'key', '{billing:write}');

\echo '5. Mistyped or forged keys are refused without touching a table (CRC-32 checksum):'
SELECT code FROM apikeys.verify(left(:'key', -1) || 'x');
SELECT code FROM apikeys.verify('ak_not_a_key');
\echo '   A well-formed key that was never issued:'
SELECT code FROM apikeys.verify((apikeys._generate_key('ak')).key);

\echo '6. Row-level security: authenticate binds the key to the transaction.'
BEGIN;
SELECT code FROM apikeys.authenticate(:'key');
SELECT apikeys.current_tenant() AS tenant, apikeys.current_owner() AS owner,
       apikeys.has_permission('reports:read') AS can_read_reports,
       apikeys.has_permission('billing:write') AS can_write_billing;
COMMIT;
SELECT apikeys.current_tenant() AS "tenant after commit";

\echo '7. Deactivate (reversible): the key answers INACTIVE.'
SELECT apikeys.deactivate_key(:key_id) \gset
SELECT code FROM apikeys.verify(:'key');
SELECT apikeys.activate_key(:key_id) \gset
SELECT code FROM apikeys.verify(:'key');

\echo '8. A disabled tenant: every key answers TENANT_DISABLED.'
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'acme';
SELECT code FROM apikeys.verify(:'key');
UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'acme';

\echo '9. Expiry: a key past its expires_at answers EXPIRED.'
SELECT key_id AS short_id, key AS short_key FROM apikeys.create_key('acme', 'short-lived', expires_in => '1 second') \gset
SELECT pg_sleep(1.1) \gset
SELECT code FROM apikeys.verify(:'short_key');

\echo '10. Revoke (irreversible): the key answers REVOKED, and can never come back.'
SELECT apikeys.revoke_key(:key_id, 'laptop stolen') \gset
\echo '   Trying to activate it again is refused (SQLSTATE 55000):'
\set VERBOSITY terse
SELECT apikeys.activate_key(:key_id) \gset
\echo '   The audit log recorded every step, with the acting user:'
SELECT action, actor, key_id = :key_id AS this_key FROM apikeys.events WHERE tenant_id = 'acme' ORDER BY at;
\echo '   Final answer for the revoked key:'
SELECT valid, code FROM apikeys.verify(:'key');

\echo '11. An IP allowlist: this key works from the office network only.'
SELECT key AS office_key FROM apikeys.create_key('acme', 'office only', allowed_ips => '{198.51.100.0/24}') \gset
SELECT (apikeys.verify(:'office_key', client_ip => '198.51.100.7')).code AS from_the_office,
       (apikeys.verify(:'office_key', client_ip => '203.0.113.9')).code AS from_elsewhere;

\echo '12. Members: bob, a developer, makes his own keys; the admin switches his API access off.'
SELECT user_id, role, api_access FROM apikeys.add_member('acme', 'alice', 'admin');
SELECT user_id, role, api_access FROM apikeys.add_member('acme', 'bob', 'developer');
CREATE ROLE demo_app;
SELECT apikeys.grant_admin('demo_app') \gset
SET apikeys.enforce_members = on;
SET ROLE demo_app;
SET apikeys.actor = 'bob';
SELECT key AS bob_key FROM apikeys.create_key('acme', 'bob laptop', owner => 'bob') \gset
\echo '   bob may not make a key for carol (SQLSTATE 42501):'
SELECT key FROM apikeys.create_key('acme', 'for carol', owner => 'carol');
SET apikeys.actor = 'alice';
SELECT api_access FROM apikeys.update_member('acme', 'bob', api_access => false);
RESET ROLE;
SELECT code AS "bob's key" FROM apikeys.verify(:'bob_key');
