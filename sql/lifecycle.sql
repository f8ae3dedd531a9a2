-- Management functions: creation, updates, status changes, deletion, search, roll.
SET apikeys.actor = 'user-42';
SELECT tenant_id, enabled, max_key_sets, max_active_keys_per_set, max_keys_per_owner, key_prefix
  FROM apikeys.create_tenant('globex', key_prefix => 'gx');
SELECT err($$SELECT apikeys.create_tenant('globex')$$);
SELECT err($$SELECT apikeys.create_tenant('')$$);
SELECT err($$SELECT apikeys.create_tenant('bad', key_prefix => 'Bad_')$$);

-- Key sets.
SELECT apikeys.create_key_set('globex', 'integrations', '{crm:read,crm:write,export}', description => 'CRM sync') AS s1 \gset
SELECT name, description, permissions, owner, created_by, updated_by FROM apikeys.key_sets WHERE key_set_id = :s1;
SELECT err($$SELECT apikeys.create_key_set('nobody', 'x')$$);
SELECT err($$SELECT apikeys.create_key_set('globex', '  ')$$);
SELECT err($$SELECT apikeys.create_key_set('globex', 'x', '{"Bad Perm"}')$$);

-- Keys: the plaintext is returned once, in the documented format.
SELECT key_id, client_id, key FROM apikeys.create_key('globex', 'sync', owner => 'bob', key_set_id => :s1,
  description => 'nightly') \gset k1_
SELECT :'k1_key' ~ '^gx_[0-9A-Za-z]{16}[0-9A-Za-z]{22}[0-9A-Za-z]{6}$' AS format_ok,
       left(:'k1_key', length(:'k1_client_id')) = :'k1_client_id' AS starts_with_client_id,
       length(:'k1_key') AS len;
SELECT name, owner, description, permissions, permissions_inherited, status, expires_at IS NULL AS no_expiry,
       hint = right(:'k1_key', 4) AS hint_ok, hash_scheme, length(key_hash) AS hash_len, created_by
  FROM apikeys.keys WHERE key_id = :k1_key_id;
-- A subset of the set's permissions, and refusals.
SELECT key_id AS k2 FROM apikeys.create_key('globex', 'reader', permissions => '{crm:read}', key_set_id => :s1,
  expires_in => '30 days') \gset
SELECT permissions, permissions_inherited, expires_at - created_at AS lifetime FROM apikeys.keys WHERE key_id = :k2;
SELECT err($$SELECT apikeys.create_key('nobody', 'x')$$);
SELECT err($$SELECT apikeys.create_key('globex', '')$$);
SELECT err($$SELECT apikeys.create_key('globex', 'x', expires_in => '-1 day')$$);
SELECT err($$SELECT apikeys.create_key('globex', 'x', key_set_id => 1)$$);
SELECT err(format('SELECT apikeys.create_key(%L, %L, permissions => %L, key_set_id => %s)', 'globex', 'x', '{crm:delete}', :s1));
SELECT err($$SELECT apikeys.create_key('globex', 'x', permissions => '{"a::b"}')$$);
-- A key set of another tenant is not found from this one.
SELECT * FROM apikeys.create_tenant('other') \gset
SELECT err(format('SELECT apikeys.create_key(%L, %L, key_set_id => %s)', 'other', 'x', :s1));
-- A key without a set holds what it is given (nothing by default).
SELECT key_id AS k3 FROM apikeys.create_key('globex', 'platform', permissions => '{*}') \gset
SELECT permissions, key_set_id FROM apikeys.keys WHERE key_id = :k3;

-- update_key: NULL leaves a field; permissions stay within the set.
SELECT apikeys.update_key(:k1_key_id, name => 'sync-v2');
SELECT name, description, permissions, permissions_inherited, updated_by FROM apikeys.keys WHERE key_id = :k1_key_id;
SELECT apikeys.update_key(:k1_key_id, permissions => '{crm:read,export}', description => 'hourly');
SELECT name, description, permissions, permissions_inherited FROM apikeys.keys WHERE key_id = :k1_key_id;
SELECT err(format('SELECT apikeys.update_key(%s, permissions => %L)', :k1_key_id, '{admin}'));
SELECT err($$SELECT apikeys.update_key(1)$$);

-- update_key_set: inheriting keys follow; own permissions must stay inside.
SELECT key_id AS k4 FROM apikeys.create_key('globex', 'inherits', key_set_id => :s1) \gset
SELECT apikeys.update_key_set(:s1, permissions => '{crm:*,export,audit}');
SELECT permissions FROM apikeys.keys WHERE key_id = :k4;
SELECT err(format('SELECT apikeys.update_key_set(%s, permissions => %L)', :s1, '{crm:read}'));
SELECT apikeys.update_key_set(:s1, name => 'integrations-2', description => 'all CRM');
SELECT name, description, permissions FROM apikeys.key_sets WHERE key_set_id = :s1;
SELECT err($$SELECT apikeys.update_key_set(1, name => 'x')$$);

-- Status: deactivate, activate, revoke (irreversible), bulk revoke (all or nothing).
SELECT apikeys.deactivate_key(:k2);
SELECT status FROM apikeys.keys WHERE key_id = :k2;
SELECT apikeys.activate_key(:k2);
SELECT status FROM apikeys.keys WHERE key_id = :k2;
SELECT apikeys.revoke_key(:k2, 'rotated out');
SELECT status, revoked_at IS NOT NULL AS has_revoked_at, revoked_by, revoked_reason FROM apikeys.keys WHERE key_id = :k2;
SELECT err(format('SELECT apikeys.activate_key(%s)', :k2));
SELECT err(format('SELECT apikeys.deactivate_key(%s)', :k2));
SELECT err(format('SELECT apikeys.revoke_key(%s)', :k2));
SELECT err(format('UPDATE apikeys.keys SET status = %L WHERE key_id = %s', 'active', :k2));
SELECT err(format('UPDATE apikeys.keys SET status = %L WHERE key_id = %s', 'inactive', :k2));
SELECT err(format('UPDATE apikeys.keys SET status = %L WHERE key_id = %s', 'lost', :k3));
SELECT err($$SELECT apikeys.activate_key(1)$$);
SELECT err($$SELECT apikeys.revoke_key(NULL)$$);
SELECT err(format('SELECT apikeys.revoke_keys(ARRAY[%s, %s, 1])', :k3, :k4));
SELECT status FROM apikeys.keys WHERE key_id IN (:k3, :k4) ORDER BY name;
SELECT err(format('SELECT apikeys.revoke_keys(ARRAY[%s, %s])', :k3, :k2));
SELECT status FROM apikeys.keys WHERE key_id = :k3;
SELECT apikeys.revoke_keys(ARRAY[:k3, :k4, :k3], 'bulk');
SELECT status, revoked_reason FROM apikeys.keys WHERE key_id IN (:k3, :k4) ORDER BY name;
SELECT err($$SELECT apikeys.revoke_keys('{}')$$);

-- search_keys: name, key id, client id and owner; expired is derived.
SELECT key_id AS k5 FROM apikeys.create_key('globex', 'Dashboard 100%', owner => 'carol_x') \gset
UPDATE apikeys.keys SET expires_at = now() - interval '1 minute' WHERE key_id = :k5;
SELECT name, owner, status FROM apikeys.search_keys('globex') ORDER BY name;
SELECT name FROM apikeys.search_keys('globex', 'SYNC');
SELECT name FROM apikeys.search_keys('globex', 'bob');
SELECT name FROM apikeys.search_keys('globex', '100%');
SELECT count(*) FROM apikeys.search_keys('globex', '%');
SELECT count(*) FROM apikeys.search_keys('globex', '_');
SELECT name FROM apikeys.search_keys('globex', :'k1_client_id');
SELECT name FROM apikeys.search_keys('globex', :'k1_key_id');
SELECT count(*) FROM apikeys.search_keys('other');
SELECT err($$SELECT * FROM apikeys.search_keys('nobody')$$);

-- roll_key: a new secret for the same client id; the old one works during the grace.
SELECT key AS rolled_key, client_id AS rolled_client FROM apikeys.roll_key(:k1_key_id, '1 hour') \gset
SELECT :'rolled_client' = :'k1_client_id' AS same_client_id, :'rolled_key' <> :'k1_key' AS new_secret;
SELECT code FROM apikeys.verify(:'rolled_key');
SELECT code FROM apikeys.verify(:'k1_key');
SELECT hint = right(:'rolled_key', 4) AS hint_follows FROM apikeys.keys WHERE key_id = :k1_key_id;
UPDATE apikeys.keys SET previous_expires_at = now() - interval '1 second' WHERE key_id = :k1_key_id;
SELECT code FROM apikeys.verify(:'k1_key');
SELECT key AS rolled2 FROM apikeys.roll_key(:k1_key_id, '0') \gset
SELECT code FROM apikeys.verify(:'rolled_key');
SELECT code FROM apikeys.verify(:'rolled2');
-- The grace never outlives the key.
UPDATE apikeys.keys SET expires_at = now() + interval '10 minutes' WHERE key_id = :k1_key_id;
SELECT key AS rolled3 FROM apikeys.roll_key(:k1_key_id) \gset
SELECT previous_expires_at = expires_at AS grace_capped FROM apikeys.keys WHERE key_id = :k1_key_id;
SELECT err(format('SELECT apikeys.roll_key(%s)', :k2));
SELECT err(format('SELECT apikeys.roll_key(%s, %L)', :k1_key_id, '-1 hour'));
SELECT err($$SELECT apikeys.roll_key(1)$$);

-- Deletion: a set with an active key is refused; without, it goes with its keys.
SELECT err(format('SELECT apikeys.delete_key_set(%s)', :s1));
SELECT err(format('DELETE FROM apikeys.key_sets WHERE key_set_id = %s', :s1));
SELECT apikeys.deactivate_key(:k1_key_id);
SELECT apikeys.delete_key_set(:s1);
SELECT count(*) FROM apikeys.keys WHERE key_set_id = :s1;
SELECT err($$SELECT apikeys.delete_key_set(1)$$);
SELECT apikeys.delete_key(:k5);
SELECT count(*) FROM apikeys.keys WHERE key_id = :k5;
SELECT err(format('SELECT apikeys.delete_key(%s)', :k5));

-- Immutable columns.
SELECT key_id AS k6, client_id AS c6 FROM apikeys.create_key('globex', 'fixed') \gset
SELECT err(format('UPDATE apikeys.keys SET tenant_id = %L WHERE key_id = %s', 'other', :k6));
SELECT err(format('UPDATE apikeys.keys SET client_id = %L WHERE key_id = %s', 'gx_0000000000000000', :k6));
SELECT err($$UPDATE apikeys.tenants SET tenant_id = 'renamed' WHERE tenant_id = 'other'$$);
-- A key's id is the one its client id determines (the 16 base62 digits as a number, mod
-- 2^63 - 1, plus 1): filled in for a plain INSERT; an explicit different id is refused.
SELECT key_id = apikeys._key_id_of(client_id) AS derived FROM apikeys.keys WHERE key_id = :k6;
SELECT apikeys._key_id_of('ak_0000000000000000') AS one, apikeys._key_id_of('gx_zzzzzzzzzzzzzzzz') = 7507589274499571573 AS top;
SELECT err($$SELECT apikeys._key_id_of('ak_short')$$);
SELECT err($$INSERT INTO apikeys.keys (key_id, client_id, tenant_id, name, hint, key_hash, hash_scheme)
  SELECT 42, 'gx_0000000000000abc', 'globex', 'explicit', hint, key_hash, hash_scheme FROM apikeys._generate_key('gx')$$);
INSERT INTO apikeys.keys (client_id, tenant_id, name, hint, key_hash, hash_scheme)
  SELECT client_id, 'globex', 'plain', hint, key_hash, hash_scheme FROM apikeys._generate_key('gx')
  RETURNING key_id = apikeys._key_id_of(client_id) AS derived;
INSERT INTO apikeys.keys (key_id, client_id, tenant_id, name, hint, key_hash, hash_scheme)
  SELECT apikeys._key_id_of(client_id), client_id, 'globex', 'explicit', hint, key_hash, hash_scheme
  FROM apikeys._generate_key('gx')
  RETURNING key_id = apikeys._key_id_of(client_id) AS derived;
RESET apikeys.actor;
-- No key is made in a read-only transaction (nor on a standby: test/t).
BEGIN READ ONLY;
SELECT err($$SELECT apikeys.create_key('globex', 'read only')$$);
ROLLBACK;
