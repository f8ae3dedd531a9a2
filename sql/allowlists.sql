-- IP allowlists: a key answers FORBIDDEN from an address outside its effective list (its
-- own, else its key set's, else its tenant's; none anywhere: any address). IPv4, IPv6, CIDR
-- ranges, inheritance, a missing address, '{}' removing a list, the key's list within its
-- set's, access tokens, and the callers of 1.1's verify.
SET apikeys.actor = 'allowlists-test';
SELECT count(*) FROM apikeys.create_tenant('ip');
SELECT key_id AS k_open, key AS open FROM apikeys.create_key('ip', 'no list anywhere') \gset

------------------------------------------------------------------------------------------
-- No list: any address, also none
------------------------------------------------------------------------------------------
SELECT code FROM apikeys.verify(:'open');
SELECT code FROM apikeys.verify(:'open', NULL, '203.0.113.7');
SELECT code FROM apikeys.verify(:'open', client_ip => '2001:db8::1');

------------------------------------------------------------------------------------------
-- A key's own list: single addresses and CIDR ranges, IPv4 and IPv6
------------------------------------------------------------------------------------------
SELECT key_id AS k_own, key AS own FROM apikeys.create_key('ip', 'own list',
  allowed_ips => '{203.0.113.7/32, 198.51.100.0/24, 2001:db8:aa::/48}') \gset
SELECT allowed_ips FROM apikeys.keys WHERE key_id = :k_own;
SELECT a AS address, (apikeys.verify(:'own', client_ip => a)).code
  FROM unnest('{203.0.113.7, 203.0.113.8, 198.51.100.0, 198.51.100.255, 198.51.101.1,
                2001:db8:aa::1, 2001:db8:aa:ffff:ffff:ffff:ffff:ffff, 2001:db8:ab::1,
                ::ffff:203.0.113.7, 10.0.0.1}'::inet[]) a;
-- A network given as the address: allowed when it lies within (<<=), not when it only overlaps.
SELECT (apikeys.verify(:'own', client_ip => '198.51.100.128/25')).code AS inside,
       (apikeys.verify(:'own', client_ip => '198.51.0.0/16')).code AS wider;
-- No address given: a key with a list cannot be used.
SELECT code FROM apikeys.verify(:'own');
SELECT code FROM apikeys.verify(:'own', NULL, NULL);
-- FORBIDDEN shows no details, and authenticate binds nothing.
SELECT * FROM apikeys.verify(:'own', client_ip => '10.0.0.1');
BEGIN;
SELECT valid, code FROM apikeys.authenticate(:'own', client_ip => '10.0.0.1');
SELECT apikeys.current_key_id() IS NULL AS nothing_bound;
SELECT valid, code, key_id = :k_own AS bound_key FROM apikeys.authenticate(:'own', NULL, '203.0.113.7');
SELECT apikeys.current_key_id() = :k_own AS bound;
COMMIT;
-- The order: a revoked, inactive, expired key or a disabled tenant answer that first;
-- the address comes before the permissions.
SELECT (apikeys.verify(:'own', '{admin}', '10.0.0.1')).code AS forbidden_first,
       (apikeys.verify(:'own', '{admin}', '203.0.113.7')).code AS then_permissions;
SELECT apikeys.deactivate_key(:k_own);
SELECT code FROM apikeys.verify(:'own', client_ip => '10.0.0.1');
SELECT apikeys.activate_key(:k_own);
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'ip';
SELECT code FROM apikeys.verify(:'own', client_ip => '10.0.0.1');
UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'ip';

------------------------------------------------------------------------------------------
-- Changing a key's list: update_key ('{}' removes it, NULL keeps it) and plain UPDATE
------------------------------------------------------------------------------------------
SELECT apikeys.update_key(:k_own, name => 'renamed');
SELECT allowed_ips FROM apikeys.keys WHERE key_id = :k_own;
SELECT apikeys.update_key(:k_own, allowed_ips => '{10.0.0.0/8}');
SELECT (apikeys.verify(:'own', client_ip => '10.9.9.9')).code AS now_allowed,
       (apikeys.verify(:'own', client_ip => '203.0.113.7')).code AS no_longer;
SELECT apikeys.update_key(:k_own, allowed_ips => '{}');
SELECT allowed_ips IS NULL AS removed FROM apikeys.keys WHERE key_id = :k_own;
SELECT code FROM apikeys.verify(:'own');
UPDATE apikeys.keys SET allowed_ips = '{192.0.2.0/24}' WHERE key_id = :k_own;
SELECT code FROM apikeys.verify(:'own', client_ip => '192.0.2.44');
SELECT code FROM apikeys.verify(:'own', client_ip => '192.0.3.44');
-- An empty list written by hand means no list, as '{}' in the functions.
UPDATE apikeys.keys SET allowed_ips = '{}' WHERE key_id = :k_own;
SELECT allowed_ips IS NULL AS no_list FROM apikeys.keys WHERE key_id = :k_own;
-- Networks are cidr: an address with host bits set is not a network.
SELECT err(format('SELECT apikeys.update_key(%s, allowed_ips => %L)', :k_own, '{10.0.0.1/8}'));
SELECT err(format('UPDATE apikeys.keys SET allowed_ips = ARRAY[NULL]::cidr[] WHERE key_id = %s', :k_own));
SELECT err($$UPDATE apikeys.tenants SET allowed_ips = '{10.0.0.0/8, NULL}' WHERE tenant_id = 'ip'$$);
SELECT err($$SELECT apikeys.create_key_set('ip', 'null net', allowed_ips => '{NULL}')$$);
-- Changing the list is an event (the old and the new list).
SELECT details -> 'allowed_ips' AS change FROM apikeys.events
 WHERE key_id = :k_own AND action = 'updated' AND details ? 'allowed_ips' ORDER BY at, event_id LIMIT 1;

------------------------------------------------------------------------------------------
-- Inheritance: key -> key set -> tenant
------------------------------------------------------------------------------------------
UPDATE apikeys.tenants SET allowed_ips = '{100.64.0.0/10, fd00::/8}' WHERE tenant_id = 'ip';
SELECT apikeys.create_key_set('ip', 'office', allowed_ips => '{100.64.1.0/24}') AS office \gset
SELECT apikeys.create_key_set('ip', 'no list') AS unlisted \gset
SELECT key AS in_office FROM apikeys.create_key('ip', 'office key', key_set_id => :office) \gset
SELECT key AS in_unlisted FROM apikeys.create_key('ip', 'unlisted set key', key_set_id => :unlisted) \gset
SELECT key AS narrow FROM apikeys.create_key('ip', 'one host', key_set_id => :office,
                                             allowed_ips => '{100.64.1.9/32}') \gset
SELECT a AS address,
       (apikeys.verify(:'open', client_ip => a)).code AS tenant_list,
       (apikeys.verify(:'in_unlisted', client_ip => a)).code AS set_without_list,
       (apikeys.verify(:'in_office', client_ip => a)).code AS set_list,
       (apikeys.verify(:'narrow', client_ip => a)).code AS own_list
  FROM unnest('{100.64.1.9, 100.64.1.10, 100.65.0.1, fd12::1, 8.8.8.8}'::inet[]) a;
-- A tenant list applies at once (committed changes are seen by the next verify), and '{}'
-- in create_tenant or a plain UPDATE means none.
UPDATE apikeys.tenants SET allowed_ips = '{}' WHERE tenant_id = 'ip';
SELECT allowed_ips IS NULL AS no_tenant_list FROM apikeys.tenants WHERE tenant_id = 'ip';
SELECT (apikeys.verify(:'open')).code AS open_again, (apikeys.verify(:'in_office')).code AS set_still;
SELECT allowed_ips FROM apikeys.create_tenant('ip2', allowed_ips => '{}');
SELECT allowed_ips FROM apikeys.create_tenant('ip3', allowed_ips => '{::1/128}');

------------------------------------------------------------------------------------------
-- A key's list lies within its set's (23514), and a set cannot be narrowed below its keys'
------------------------------------------------------------------------------------------
SELECT err(format($$SELECT apikeys.create_key('ip', 'outside', key_set_id => %s, allowed_ips => '{100.64.2.0/24}')$$, :office));
SELECT err(format($$SELECT apikeys.create_key('ip', 'wider', key_set_id => %s, allowed_ips => '{100.64.0.0/16}')$$, :office));
SELECT err(format($$SELECT apikeys.create_key('ip', 'v6', key_set_id => %s, allowed_ips => '{::1/128}')$$, :office));
SELECT key_id AS k_narrow FROM apikeys.keys WHERE name = 'one host' \gset
SELECT err(format($$UPDATE apikeys.keys SET allowed_ips = '{100.64.1.9/32, 1.1.1.1/32}' WHERE key_id = %s$$, :k_narrow));
SELECT err(format($$SELECT apikeys.update_key_set(%s, allowed_ips => '{100.64.1.16/28}')$$, :office));
SELECT err(format($$UPDATE apikeys.key_sets SET allowed_ips = '{10.0.0.0/8}' WHERE key_set_id = %s$$, :office));
-- Widening is fine; a key moves only into a set whose list holds its own.
SELECT apikeys.update_key_set(:office, allowed_ips => '{100.64.0.0/16}');
UPDATE apikeys.key_sets SET allowed_ips = '{192.0.2.0/24}' WHERE key_set_id = :unlisted;
SELECT err(format($$UPDATE apikeys.keys SET key_set_id = %s WHERE key_id = %s$$, :unlisted, :k_narrow));
UPDATE apikeys.key_sets SET allowed_ips = '{192.0.2.0/24, 100.64.1.0/24}' WHERE key_set_id = :unlisted;
SELECT err(format($$UPDATE apikeys.keys SET key_set_id = %s WHERE key_id = %s$$, :unlisted, :k_narrow));
-- Removing the set's list: its keys keep their own.
SELECT apikeys.update_key_set(:office, allowed_ips => '{}');
SELECT allowed_ips IS NULL AS removed FROM apikeys.key_sets WHERE key_set_id = :office;
SELECT (apikeys.verify(:'narrow', client_ip => '100.64.1.9')).code AS own_list_kept,
       (apikeys.verify(:'in_office', client_ip => '8.8.8.8')).code AS no_list_left;

------------------------------------------------------------------------------------------
-- Access tokens carry the list ("ips") and are refused elsewhere
------------------------------------------------------------------------------------------
SELECT apikeys.add_signing_key() IS NOT NULL AS signing_key;
SELECT err($$SELECT apikeys.issue_token(left('$$ || :'narrow' || $$', 19), '$$ || :'narrow' || $$')$$);
SELECT err($$SELECT apikeys.issue_token(left('$$ || :'narrow' || $$', 19), '$$ || :'narrow' || $$', '1 hour', '8.8.8.8')$$);
SELECT apikeys.issue_token(left(:'narrow', 19), :'narrow', client_ip => '100.64.1.9') AS tok \gset
SELECT convert_from(decode(translate(split_part(:'tok', '.', 2), '-_', '+/')
         || repeat('=', (4 - length(split_part(:'tok', '.', 2)) % 4) % 4), 'base64'), 'UTF8')::jsonb -> 'ips' AS ips;
SELECT (apikeys.verify_token(:'tok')).code AS no_address,
       (apikeys.verify_token(:'tok', false, '100.64.1.9')).code AS inside,
       (apikeys.verify_token(:'tok', client_ip => '100.64.1.10')).code AS outside;
BEGIN;
SELECT code FROM apikeys.authenticate_token(:'tok', '8.8.8.8');
SELECT apikeys.current_key_id() IS NULL AS nothing_bound;
SELECT code FROM apikeys.authenticate_token(:'tok', client_ip => '100.64.1.9');
SELECT apikeys.current_key_id() = :k_narrow AS bound;
COMMIT;
-- A key without a list: its tokens carry none and work from anywhere.
SELECT apikeys.issue_token(left(:'open', 19), :'open') AS open_tok \gset
SELECT (apikeys.verify_token(:'open_tok')).code AS anywhere;
-- A revoked key answers REVOKED before FORBIDDEN with check_revocation.
SELECT apikeys.revoke_key(:k_narrow);
SELECT (apikeys.verify_token(:'tok', true, '8.8.8.8')).code AS revoked_first;

------------------------------------------------------------------------------------------
-- The callers of 1.1's verify(key, required) keep working: by position and by name
------------------------------------------------------------------------------------------
SELECT code FROM apikeys.verify(:'open');
SELECT code FROM apikeys.verify(:'open', '{}');
SELECT code FROM apikeys.verify(:'open', ARRAY['x']);
SELECT code FROM apikeys.verify(key => :'open');
SELECT code FROM apikeys.verify(key => :'open', required => NULL);
SELECT code FROM apikeys.verify(required => '{}', key => :'open');
SELECT code FROM apikeys.verify(:'open', required => NULL, client_ip => NULL);
SELECT valid FROM apikeys.authenticate(:'open');
SELECT valid FROM apikeys.authenticate(key => :'open', required => '{}');
PREPARE v1(text) AS SELECT code FROM apikeys.verify($1);
EXECUTE v1(:'open');
PREPARE v2(text, text[]) AS SELECT code FROM apikeys.verify($1, $2);
EXECUTE v2(:'open', '{}');
-- A text literal still resolves (unknown -> text), and so does a text address.
SELECT code FROM apikeys.verify('ak_nothing');
SELECT code FROM apikeys.verify(:'open', NULL, '192.0.2.1'::text::inet);
SELECT err($$SELECT apikeys.verify('ak_x', NULL, 'not an address')$$);
SELECT count(*) AS verify_functions FROM pg_proc WHERE proname = 'verify' AND pronamespace = 'apikeys'::regnamespace;
