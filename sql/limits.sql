-- Tenant limits: every rule through the functions and through plain SQL
-- on the tables, at the boundary (exactly at the limit passes, one over fails). Messages
-- name the tenant, set or owner and the limit, and carry a HINT. Race-freedom is tested by
-- test/isolation and test/t/010_stress.pl.
SET apikeys.actor = 'limits-test';
SET TimeZone = 'UTC';  -- lifetimes in whole days, whatever the date (no DST shift)

-- A DBA's plain INSERT of a key: a real hash from apikeys._generate_key, no function.
CREATE FUNCTION pg_temp.insert_key(tenant text, name text, owner text DEFAULT NULL, set_id bigint DEFAULT NULL,
    status text DEFAULT 'active', expires_at timestamptz DEFAULT NULL) RETURNS bigint
  LANGUAGE sql AS $$
  INSERT INTO apikeys.keys (client_id, tenant_id, key_set_id, owner, name, status, expires_at, hint, key_hash, hash_scheme)
  SELECT g.client_id, tenant, set_id, owner, name, status, expires_at, g.hint, g.key_hash, g.hash_scheme
    FROM apikeys._generate_key('ak') g
  RETURNING key_id $$;
-- Active keys of a set and live keys of an owner, as the limits count them.
CREATE FUNCTION pg_temp.active_in(set_id bigint) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM apikeys.keys
   WHERE key_set_id = set_id AND status = 'active' AND (expires_at IS NULL OR expires_at > now()) $$;
-- The lifetime a key was given (volatile: sees a key created earlier in the same statement).
CREATE FUNCTION pg_temp.lifetime(id bigint) RETURNS interval LANGUAGE sql VOLATILE AS $$
  SELECT expires_at - created_at FROM apikeys.keys WHERE key_id = id $$;
CREATE FUNCTION pg_temp.live_of(tenant text, who text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM apikeys.keys
   WHERE tenant_id = tenant AND owner = who AND status <> 'revoked' AND (expires_at IS NULL OR expires_at > now()) $$;

------------------------------------------------------------------------------------------
-- Settings: limits are positive, max_keys_per_owner is at most 1000
------------------------------------------------------------------------------------------
SELECT err($$SELECT apikeys.create_tenant('lim_bad', max_key_sets => 0)$$);
SELECT err($$SELECT apikeys.create_tenant('lim_bad', max_active_keys_per_set => -1)$$);
SELECT err($$SELECT apikeys.create_tenant('lim_bad', max_keys_per_owner => 0)$$);
SELECT err($$SELECT apikeys.create_tenant('lim_bad', max_keys_per_owner => 1001)$$);
SELECT err($$SELECT apikeys.create_tenant('lim_bad', max_expiry => '0')$$);
SELECT err($$SELECT apikeys.create_tenant('lim_bad', default_expiry => '-1 day')$$);
SELECT err($$SELECT apikeys.create_tenant('lim_bad', max_expiry => '1 day', default_expiry => '2 days')$$);
SELECT err($$INSERT INTO apikeys.tenants (tenant_id, max_keys_per_owner) VALUES ('lim_bad', 1001)$$);
SELECT count(*) AS lim_bad_rows FROM apikeys.tenants WHERE tenant_id = 'lim_bad';
SELECT tenant_id, max_key_sets, max_active_keys_per_set, max_keys_per_owner
  FROM apikeys.create_tenant('lim_max', max_keys_per_owner => 1000, max_key_sets => 1, max_active_keys_per_set => 1);
SELECT err($$UPDATE apikeys.tenants SET max_keys_per_owner = 1001 WHERE tenant_id = 'lim_max'$$);
SELECT err($$UPDATE apikeys.tenants SET max_key_sets = 0 WHERE tenant_id = 'lim_max'$$);
SELECT err($$UPDATE apikeys.tenants SET max_active_keys_per_set = -5 WHERE tenant_id = 'lim_max'$$);
SELECT err($$UPDATE apikeys.tenants SET retention = '-1 day' WHERE tenant_id = 'lim_max'$$);
SELECT err($$UPDATE apikeys.tenants SET max_keys_per_owner = NULL WHERE tenant_id = 'lim_max'$$);
SELECT max_key_sets, max_active_keys_per_set, max_keys_per_owner, retention FROM apikeys.tenants WHERE tenant_id = 'lim_max';

------------------------------------------------------------------------------------------
-- max_key_sets: key sets per tenant, whether their keys are active or not
------------------------------------------------------------------------------------------
SELECT tenant_id, max_key_sets FROM apikeys.create_tenant('lim_sets', max_key_sets => 3);
SELECT apikeys.create_key_set('lim_sets', 'one') AS ks1 \gset
SELECT apikeys.create_key_set('lim_sets', 'two') AS ks2 \gset
-- The third, by plain SQL: exactly at the limit passes.
INSERT INTO apikeys.key_sets (tenant_id, name) VALUES ('lim_sets', 'three') RETURNING name;
-- One over fails, through the function and through SQL; nothing is left behind.
SELECT err($$SELECT apikeys.create_key_set('lim_sets', 'four')$$);
SELECT err($$INSERT INTO apikeys.key_sets (tenant_id, name) VALUES ('lim_sets', 'four')$$);
-- Sets without any key, or with only inactive keys, count too.
SELECT key_id AS ks_key FROM apikeys.create_key('lim_sets', 'k', key_set_id => :ks2) \gset
SELECT apikeys.deactivate_key(:ks_key);
SELECT err($$SELECT apikeys.create_key_set('lim_sets', 'four')$$);
SELECT count(*) AS sets FROM apikeys.key_sets WHERE tenant_id = 'lim_sets';
-- Deleting one makes room again.
SELECT apikeys.delete_key_set(:ks1);
SELECT apikeys.create_key_set('lim_sets', 'four') IS NOT NULL AS created;
SELECT name FROM apikeys.key_sets WHERE tenant_id = 'lim_sets' ORDER BY created_at, name;
-- Sets of another tenant do not count.
SELECT tenant_id FROM apikeys.create_tenant('lim_sets_other', max_key_sets => 1);
SELECT apikeys.create_key_set('lim_sets_other', 'one') IS NOT NULL AS created;
SELECT err($$SELECT apikeys.create_key_set('lim_sets_other', 'two')$$);
-- Lowering the limit below usage keeps the sets but refuses new ones.
UPDATE apikeys.tenants SET max_key_sets = 2 WHERE tenant_id = 'lim_sets';
SELECT count(*) AS sets_kept FROM apikeys.key_sets WHERE tenant_id = 'lim_sets';
SELECT err($$SELECT apikeys.create_key_set('lim_sets', 'five')$$);
-- Updating a set is not creating one.
SELECT apikeys.update_key_set(:ks2, name => 'two renamed');
UPDATE apikeys.key_sets SET description = 'by hand' WHERE key_set_id = :ks2;
SELECT name, description FROM apikeys.key_sets WHERE key_set_id = :ks2;

------------------------------------------------------------------------------------------
-- max_active_keys_per_set: creation, activation, moving an active key in
------------------------------------------------------------------------------------------
SELECT tenant_id, max_active_keys_per_set FROM apikeys.create_tenant('lim_act', max_active_keys_per_set => 3);
SELECT apikeys.create_key_set('lim_act', 'full', '{a:read}') AS sa \gset
SELECT apikeys.create_key_set('lim_act', 'spare', '{a:read}') AS sb \gset
-- Two through the function, the third by plain SQL: exactly at the limit.
SELECT key_id AS a1 FROM apikeys.create_key('lim_act', 'a1', key_set_id => :sa) \gset
SELECT key_id AS a2 FROM apikeys.create_key('lim_act', 'a2', key_set_id => :sa) \gset
INSERT INTO apikeys.keys (client_id, tenant_id, key_set_id, name, hint, key_hash, hash_scheme)
SELECT client_id, 'lim_act', :sa, 'a3', hint, key_hash, hash_scheme FROM apikeys._generate_key('ak')
RETURNING status;
SELECT pg_temp.active_in(:sa) AS active;
-- Creation of a fourth active key fails both ways.
SELECT err(format('SELECT apikeys.create_key(%L, %L, key_set_id => %s)', 'lim_act', 'a4', :sa));
SELECT err(format('SELECT pg_temp.insert_key(%L, %L, set_id => %s)', 'lim_act', 'a4', :sa));
-- An inactive key may be added to a full set (it is not active).
SELECT pg_temp.insert_key('lim_act', 'i1', set_id => :sa, status => 'inactive') AS i1 \gset
SELECT pg_temp.insert_key('lim_act', 'i2', set_id => :sa, status => 'inactive') AS i2 \gset
-- Activation of a fifth fails, through the function and by UPDATE.
SELECT err(format('SELECT apikeys.activate_key(%s)', :i1));
SELECT err(format('UPDATE apikeys.keys SET status = %L WHERE key_id = %s', 'active', :i1));
SELECT status FROM apikeys.keys WHERE key_id = :i1;
-- Deactivate one, and one activation fits again (and only one).
SELECT apikeys.deactivate_key(:a1);
SELECT apikeys.activate_key(:i1);
SELECT err(format('UPDATE apikeys.keys SET status = %L WHERE key_id = %s', 'active', :i2));
UPDATE apikeys.keys SET status = 'inactive' WHERE key_id = :i1;
UPDATE apikeys.keys SET status = 'active' WHERE key_id = :i2;
SELECT pg_temp.active_in(:sa) AS active;
-- Moving an active key into the full set fails (from another set, and from no set).
SELECT key_id AS b1 FROM apikeys.create_key('lim_act', 'b1', key_set_id => :sb) \gset
SELECT key_id AS loose FROM apikeys.create_key('lim_act', 'loose') \gset
SELECT err(format('UPDATE apikeys.keys SET key_set_id = %s WHERE key_id = %s', :sa, :b1));
SELECT err(format('UPDATE apikeys.keys SET key_set_id = %s WHERE key_id = %s', :sa, :loose));
SELECT err(format('UPDATE apikeys.keys SET key_set_id = %s, status = %L WHERE key_id = %s', :sa, 'active', :i1));
-- Moving an inactive key in is fine; moving an active key out makes room.
UPDATE apikeys.keys SET key_set_id = :sb WHERE key_id = :i1;
UPDATE apikeys.keys SET key_set_id = :sb WHERE key_id = :a2;
UPDATE apikeys.keys SET key_set_id = :sa WHERE key_id = :b1;
SELECT pg_temp.active_in(:sa) AS active_full, pg_temp.active_in(:sb) AS active_spare;
-- Revoked and expired keys are not active: they make room.
SELECT apikeys.revoke_key(:b1);
SELECT key_id AS a5 FROM apikeys.create_key('lim_act', 'a5', key_set_id => :sa, expires_in => '1 hour') \gset
SELECT err(format('SELECT apikeys.create_key(%L, %L, key_set_id => %s)', 'lim_act', 'a6', :sa));
UPDATE apikeys.keys SET expires_at = now() - interval '1 minute' WHERE key_id = :a5;
SELECT key_id AS a6 FROM apikeys.create_key('lim_act', 'a6', key_set_id => :sa) \gset
-- Giving the expired active key a future expiry would make it active again: refused.
SELECT err(format('UPDATE apikeys.keys SET expires_at = now() + interval %L WHERE key_id = %s', '1 day', :a5));
SELECT pg_temp.active_in(:sa) AS active;
-- Other changes to keys of a full set pass (name, permissions, roll, revoke).
SELECT apikeys.update_key(:a6, name => 'a6 renamed', permissions => '{}');
SELECT count(*) AS rolled FROM apikeys.roll_key(:a6);
UPDATE apikeys.keys SET description = 'touched' WHERE key_set_id = :sa;
-- Lowering the limit below usage keeps the active keys but refuses new ones.
UPDATE apikeys.tenants SET max_active_keys_per_set = 1 WHERE tenant_id = 'lim_act';
SELECT pg_temp.active_in(:sa) AS still_active;
SELECT err(format('SELECT apikeys.create_key(%L, %L, key_set_id => %s)', 'lim_act', 'a7', :sa));
SELECT err(format('SELECT apikeys.activate_key(%s)', :a1));
SELECT apikeys.deactivate_key(:a6);
SELECT apikeys.deactivate_key(:i2);
SELECT pg_temp.active_in(:sa) AS active;
SELECT err(format('SELECT apikeys.activate_key(%s)', :a6));
-- Keys outside any set are not limited by it.
SELECT count(*) AS created FROM generate_series(1, 4) i, apikeys.create_key('lim_act', 'free ' || i);

------------------------------------------------------------------------------------------
-- max_keys_per_owner: live (not revoked, not expired) keys, inactive ones included
------------------------------------------------------------------------------------------
-- One token per user (max_keys_per_owner = 1): revoke before generating a new one.
SELECT tenant_id, max_keys_per_owner FROM apikeys.create_tenant('lim_one', max_keys_per_owner => 1);
SELECT key_id AS o1 FROM apikeys.create_key('lim_one', 'token', owner => 'alice') \gset
SELECT err($$SELECT apikeys.create_key('lim_one', 'token 2', owner => 'alice')$$);
SELECT err($$SELECT pg_temp.insert_key('lim_one', 'token 2', owner => 'alice')$$);
-- An inactive key is still live.
SELECT apikeys.deactivate_key(:o1);
SELECT err($$SELECT apikeys.create_key('lim_one', 'token 2', owner => 'alice')$$);
SELECT apikeys.revoke_key(:o1, 'replacing');
SELECT key_id AS o2 FROM apikeys.create_key('lim_one', 'token 2', owner => 'alice') \gset
SELECT pg_temp.live_of('lim_one', 'alice') AS live, count(*) AS rows FROM apikeys.keys WHERE owner = 'alice' AND tenant_id = 'lim_one';
-- Other owners and platform keys (no owner) are not limited by alice's key.
SELECT count(*) AS created FROM apikeys.create_key('lim_one', 'token', owner => 'bob');
SELECT count(*) AS created FROM generate_series(1, 3) i, apikeys.create_key('lim_one', 'platform ' || i);
-- Handing a key to an owner who has one already is refused.
SELECT pg_temp.insert_key('lim_one', 'spare') AS spare \gset
SELECT err(format('UPDATE apikeys.keys SET owner = %L WHERE key_id = %s', 'alice', :spare));
UPDATE apikeys.keys SET owner = 'carol' WHERE key_id = :spare;
-- An expired key is not live; pushing its expiry back into the future makes it live again.
UPDATE apikeys.keys SET expires_at = now() - interval '1 second' WHERE key_id = :o2;
SELECT pg_temp.insert_key('lim_one', 'token 3', owner => 'alice') AS o3 \gset
SELECT err(format('UPDATE apikeys.keys SET expires_at = NULL WHERE key_id = %s', :o2));
SELECT err(format('UPDATE apikeys.keys SET expires_at = now() + interval %L WHERE key_id = %s', '1 day', :o2));
SELECT pg_temp.live_of('lim_one', 'alice') AS live;
-- A revoked key can be handed around: it is not live.
SELECT apikeys.revoke_key(:o3);
UPDATE apikeys.keys SET owner = 'bob' WHERE key_id = :o3;
-- Limit 3: the third passes, the fourth fails (function and SQL); a key set changes nothing.
UPDATE apikeys.tenants SET max_keys_per_owner = 3 WHERE tenant_id = 'lim_one';
SELECT apikeys.create_key_set('lim_one', 'dave''s') AS sd \gset
SELECT count(*) AS created FROM apikeys.create_key('lim_one', 'd1', owner => 'dave');
SELECT count(*) AS created FROM apikeys.create_key('lim_one', 'd2', owner => 'dave', key_set_id => :sd);
SELECT pg_temp.insert_key('lim_one', 'd3', owner => 'dave', status => 'inactive') IS NOT NULL AS created;
SELECT err($$SELECT apikeys.create_key('lim_one', 'd4', owner => 'dave')$$);
SELECT err(format('SELECT pg_temp.insert_key(%L, %L, owner => %L, set_id => %s)', 'lim_one', 'd4', 'dave', :sd));
SELECT pg_temp.live_of('lim_one', 'dave') AS live;
-- Lowering the limit below usage keeps the keys but refuses new ones.
UPDATE apikeys.tenants SET max_keys_per_owner = 1 WHERE tenant_id = 'lim_one';
SELECT pg_temp.live_of('lim_one', 'dave') AS still_live;
SELECT err($$SELECT apikeys.create_key('lim_one', 'd5', owner => 'dave')$$);
-- No cap (NULL): any number.
UPDATE apikeys.tenants SET max_keys_per_owner = NULL WHERE tenant_id = 'lim_one';
SELECT count(*) AS created FROM generate_series(1, 3) i, apikeys.create_key('lim_one', 'more ' || i, owner => 'dave');

------------------------------------------------------------------------------------------
-- max_expiry and default_expiry: new keys only
------------------------------------------------------------------------------------------
SELECT tenant_id, max_expiry, default_expiry FROM apikeys.create_tenant('lim_exp', max_expiry => '30 days');
-- No expiry given: max_expiry is used. Exactly the limit passes, one second more fails.
SELECT key_id AS e1 FROM apikeys.create_key('lim_exp', 'e1') \gset
SELECT key_id AS e2 FROM apikeys.create_key('lim_exp', 'e2', expires_in => '30 days') \gset
SELECT key_id AS e3 FROM apikeys.create_key('lim_exp', 'e3', expires_in => '1 hour') \gset
SELECT name, expires_at - created_at AS lifetime FROM apikeys.keys WHERE key_id IN (:e1, :e2, :e3) ORDER BY name;
SELECT err($$SELECT apikeys.create_key('lim_exp', 'e4', expires_in => '30 days 1 second')$$);
SELECT err($$SELECT apikeys.create_key('lim_exp', 'e4', expires_in => '10 years')$$);
-- The same by plain SQL.
SELECT pg_temp.insert_key('lim_exp', 'e5') AS e5 \gset
SELECT pg_temp.insert_key('lim_exp', 'e6', expires_at => now() + interval '30 days') AS e6 \gset
SELECT name, expires_at - created_at AS lifetime FROM apikeys.keys WHERE key_id IN (:e5, :e6) ORDER BY name;
SELECT err($$SELECT pg_temp.insert_key('lim_exp', 'e7', expires_at => now() + interval '31 days')$$);
SELECT err($$SELECT pg_temp.insert_key('lim_exp', 'e7', expires_at => 'infinity')$$);
-- Extending an existing key beyond max_expiry is refused; shortening is fine.
SELECT err(format('UPDATE apikeys.keys SET expires_at = now() + interval %L WHERE key_id = %s', '60 days', :e3));
SELECT err(format('UPDATE apikeys.keys SET expires_at = NULL WHERE key_id = %s', :e3));
UPDATE apikeys.keys SET expires_at = now() + interval '10 days' WHERE key_id = :e1;
-- default_expiry applies when none is given.
UPDATE apikeys.tenants SET default_expiry = '7 days' WHERE tenant_id = 'lim_exp';
SELECT pg_temp.lifetime(key_id) FROM apikeys.create_key('lim_exp', 'e8');
SELECT pg_temp.lifetime(key_id) FROM apikeys.create_key('lim_exp', 'e9', expires_in => '20 days');
-- Lowering max_expiry never touches existing keys.
CREATE TEMP TABLE exp_before AS SELECT key_id, expires_at FROM apikeys.keys WHERE tenant_id = 'lim_exp';
UPDATE apikeys.tenants SET default_expiry = NULL, max_expiry = '1 day' WHERE tenant_id = 'lim_exp';
SELECT count(*) AS keys, count(*) FILTER (WHERE k.expires_at = b.expires_at) AS unchanged,
       count(*) FILTER (WHERE k.expires_at > now() + interval '1 day') AS beyond_new_max
  FROM exp_before b JOIN apikeys.keys k USING (key_id);
SELECT err($$SELECT apikeys.create_key('lim_exp', 'e10', expires_in => '2 days')$$);
SELECT pg_temp.lifetime(key_id) FROM apikeys.create_key('lim_exp', 'e10');
-- Such an old key can still be shortened, renamed, rolled; not extended.
UPDATE apikeys.keys SET expires_at = expires_at - interval '1 day' WHERE key_id = :e2;
SELECT apikeys.update_key(:e2, name => 'e2 renamed');
SELECT count(*) AS rolled FROM apikeys.roll_key(:e2);
SELECT err(format('UPDATE apikeys.keys SET expires_at = now() + interval %L WHERE key_id = %s', '40 days', :e2));
-- Raising or removing max_expiry touches nothing either.
UPDATE apikeys.tenants SET max_expiry = NULL WHERE tenant_id = 'lim_exp';
SELECT count(*) FILTER (WHERE k.expires_at = b.expires_at) AS unchanged
  FROM exp_before b JOIN apikeys.keys k USING (key_id) WHERE key_id <> :e2;
SELECT pg_temp.lifetime(key_id) IS NULL AS never_expires FROM apikeys.create_key('lim_exp', 'e11');
-- default_expiry alone.
UPDATE apikeys.tenants SET default_expiry = '90 days' WHERE tenant_id = 'lim_exp';
SELECT pg_temp.lifetime(key_id) FROM apikeys.create_key('lim_exp', 'e12');
SELECT pg_temp.lifetime(key_id) FROM apikeys.create_key('lim_exp', 'e13', expires_in => '1000 days');

------------------------------------------------------------------------------------------
-- A disabled tenant: no key is created, and its keys answer TENANT_DISABLED
------------------------------------------------------------------------------------------
SELECT tenant_id FROM apikeys.create_tenant('lim_off');
SELECT apikeys.create_key_set('lim_off', 'set') AS so \gset
SELECT key_id AS off1, key AS off1_key FROM apikeys.create_key('lim_off', 'k1', owner => 'ann', key_set_id => :so) \gset
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'lim_off';
SELECT err($$SELECT apikeys.create_key('lim_off', 'k2')$$);
SELECT err(format('SELECT apikeys.create_key(%L, %L, owner => %L, key_set_id => %s)', 'lim_off', 'k2', 'ann', :so));
SELECT err($$SELECT pg_temp.insert_key('lim_off', 'k2')$$);
SELECT err($$SELECT pg_temp.insert_key('lim_off', 'k2', status => 'inactive')$$);
SELECT valid, code, key_id FROM apikeys.verify(:'off1_key');
SELECT count(*) AS keys FROM apikeys.keys WHERE tenant_id = 'lim_off';
-- Existing keys can still be managed while the tenant is off.
SELECT apikeys.deactivate_key(:off1);
SELECT apikeys.activate_key(:off1);
UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'lim_off';
SELECT code FROM apikeys.verify(:'off1_key');
SELECT count(*) AS created FROM apikeys.create_key('lim_off', 'k2');

------------------------------------------------------------------------------------------
-- A key set with an active key cannot be deleted
------------------------------------------------------------------------------------------
SELECT apikeys.create_key_set('lim_off', 'doomed') AS sdel \gset
SELECT key_id AS d1 FROM apikeys.create_key('lim_off', 'd1', key_set_id => :sdel) \gset
SELECT key_id AS d2 FROM apikeys.create_key('lim_off', 'd2', key_set_id => :sdel) \gset
SELECT key_id AS d3 FROM apikeys.create_key('lim_off', 'd3', key_set_id => :sdel) \gset
SELECT apikeys.deactivate_key(:d1);
SELECT apikeys.revoke_key(:d2);
SELECT err(format('SELECT apikeys.delete_key_set(%s)', :sdel));
SELECT err(format('DELETE FROM apikeys.key_sets WHERE key_set_id = %s', :sdel));
-- An expired active key is not active.
UPDATE apikeys.keys SET expires_at = now() - interval '1 second' WHERE key_id = :d3;
SELECT apikeys.delete_key_set(:sdel);
SELECT count(*) AS keys_left FROM apikeys.keys WHERE key_set_id = :sdel;
-- And by plain SQL once every key is inactive.
SELECT apikeys.create_key_set('lim_off', 'doomed 2') AS sdel2 \gset
SELECT key_id AS d4 FROM apikeys.create_key('lim_off', 'd4', key_set_id => :sdel2) \gset
SELECT err(format('DELETE FROM apikeys.key_sets WHERE key_set_id = %s', :sdel2));
UPDATE apikeys.keys SET status = 'inactive' WHERE key_id = :d4;
DELETE FROM apikeys.key_sets WHERE key_set_id = :sdel2;
SELECT count(*) AS keys_left FROM apikeys.keys WHERE key_set_id = :sdel2;

------------------------------------------------------------------------------------------
-- Several rows in one statement: each row is checked, the statement is all or nothing
------------------------------------------------------------------------------------------
SELECT tenant_id FROM apikeys.create_tenant('lim_multi', max_active_keys_per_set => 2, max_keys_per_owner => 2);
SELECT apikeys.create_key_set('lim_multi', 's') AS sm \gset
SELECT err(format($f$INSERT INTO apikeys.keys (client_id, tenant_id, key_set_id, name, hint, key_hash, hash_scheme)
  SELECT (g).client_id, 'lim_multi', %s, 'm' || i, (g).hint, (g).key_hash, (g).hash_scheme
    FROM (SELECT i, apikeys._generate_key('ak') AS g FROM generate_series(1, 3) i) x$f$, :sm));
SELECT err($$INSERT INTO apikeys.keys (client_id, tenant_id, owner, name, hint, key_hash, hash_scheme)
  SELECT (g).client_id, 'lim_multi', 'zed', 'm' || i, (g).hint, (g).key_hash, (g).hash_scheme
    FROM (SELECT i, apikeys._generate_key('ak') AS g FROM generate_series(1, 3) i) x$$);
SELECT count(*) AS keys FROM apikeys.keys WHERE tenant_id = 'lim_multi';
WITH ins AS (
  INSERT INTO apikeys.keys (client_id, tenant_id, key_set_id, name, status, hint, key_hash, hash_scheme)
  SELECT (g).client_id, 'lim_multi', :sm, 'm' || i, 'inactive', (g).hint, (g).key_hash, (g).hash_scheme
    FROM (SELECT i, apikeys._generate_key('ak') AS g FROM generate_series(1, 3) i) x RETURNING 1)
SELECT count(*) AS inserted FROM ins;
SELECT err(format('UPDATE apikeys.keys SET status = %L WHERE key_set_id = %s', 'active', :sm));
SELECT status, count(*) FROM apikeys.keys WHERE key_set_id = :sm GROUP BY status;
UPDATE apikeys.keys SET status = 'active'
 WHERE key_id IN (SELECT key_id FROM apikeys.keys WHERE key_set_id = :sm ORDER BY name LIMIT 2);
WITH ins AS (
  INSERT INTO apikeys.keys (client_id, tenant_id, owner, name, hint, key_hash, hash_scheme)
  SELECT (g).client_id, 'lim_multi', 'zed', 'z' || i, (g).hint, (g).key_hash, (g).hash_scheme
    FROM (SELECT i, apikeys._generate_key('ak') AS g FROM generate_series(1, 2) i) x RETURNING 1)
SELECT count(*) AS inserted FROM ins;
SELECT pg_temp.active_in(:sm) AS active, pg_temp.live_of('lim_multi', 'zed') AS live;

-- Every refusal above left an event-free trail: only successful changes were recorded.
SELECT count(*) AS events_of_refused FROM apikeys.events
 WHERE tenant_id LIKE 'lim\_%' AND details ->> 'name' IN ('five', 'a4', 'a7', 'd5', 'e4', 'e7');
RESET apikeys.actor;
RESET TimeZone;
