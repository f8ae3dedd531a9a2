-- Tenant members and their rights, enforced for a role with apikeys.enforce_members = on:
-- every right, allowed and refused, through the functions and through plain SQL; switching
-- a user off; removing a member; the last admin.
SELECT count(*) FROM apikeys.create_tenant('mem');
SELECT count(*) FROM apikeys.create_tenant('elsewhere');

-- The first admin comes from a role without the setting (here the superuser); a tenant's
-- first member must be an admin.
SELECT err($$SELECT apikeys.add_member('mem', 'mia', 'member')$$);
SELECT tenant_id, user_id, role, api_access FROM apikeys.add_member('mem', 'alice', 'admin');
-- Defaults: admins and developers have API access, members do not.
SELECT user_id, role, api_access FROM apikeys.add_member('mem', 'dave', 'developer');
SELECT user_id, role, api_access FROM apikeys.add_member('mem', 'mia');
SELECT user_id, role, api_access FROM apikeys.add_member('mem', 'max', 'member', api_access => true);
SELECT err($$SELECT apikeys.add_member('mem', 'dave', 'developer')$$);
SELECT err($$SELECT apikeys.add_member('mem', '  ', 'developer')$$);
SELECT err($$SELECT apikeys.add_member('mem', 'zed', 'owner')$$);
SELECT err($$SELECT apikeys.add_member('nobody', 'zed')$$);
SELECT err($$SELECT apikeys.update_member('mem', 'zed', role => 'admin')$$);
SELECT err($$SELECT apikeys.remove_member('mem', 'zed')$$);
SELECT count(*) FROM apikeys.add_member('elsewhere', 'olga', 'admin');

-- The application role acts for members: a superuser turns the setting on before SET ROLE
-- (ALTER ROLE ... SET does the same at login), and the role cannot turn it off.
CREATE ROLE apikeys_member_app;
SELECT apikeys.grant_admin('apikeys_member_app');
-- Plain writes to the tables too, so that the triggers (not the grants) decide below.
GRANT INSERT, UPDATE, DELETE ON apikeys.members TO apikeys_member_app;
GRANT UPDATE, DELETE ON apikeys.key_sets, apikeys.keys TO apikeys_member_app;
SET apikeys.enforce_members = on;
SET ROLE apikeys_member_app;
SELECT err($$SET apikeys.enforce_members = off$$);
SELECT err($$RESET apikeys.enforce_members$$);
SELECT current_setting('apikeys.enforce_members') AS enforced;

-- No actor: nothing is allowed.
SELECT err($$SELECT apikeys.create_key('mem', 'k')$$);
-- Not a member.
SET apikeys.actor = 'stranger';
SELECT err($$SELECT apikeys.create_key('mem', 'k', owner => 'stranger')$$);
SELECT err($$SELECT * FROM apikeys.search_keys('mem')$$);
-- Tenants and jobs are not an application's to make.
SET apikeys.actor = 'alice';
SELECT err($$SELECT apikeys.create_tenant('new')$$);
SELECT err($$SELECT apikeys.purge()$$);

-- Tenant settings and members: admin only.
SET apikeys.actor = 'dave';
SELECT err($$UPDATE apikeys.tenants SET max_key_sets = 9 WHERE tenant_id = 'mem'$$);
SELECT err($$UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'mem'$$);
SELECT err($$SELECT apikeys.add_member('mem', 'eve')$$);
SELECT err($$SELECT apikeys.update_member('mem', 'mia', api_access => true)$$);
SELECT err($$SELECT apikeys.update_member('mem', 'dave', role => 'admin')$$);
SELECT err($$INSERT INTO apikeys.members (tenant_id, user_id, role) VALUES ('mem', 'eve', 'member')$$);
SELECT err($$DELETE FROM apikeys.members WHERE tenant_id = 'mem' AND user_id = 'mia'$$);
SELECT err($$UPDATE apikeys.members SET api_access = true WHERE tenant_id = 'mem' AND user_id = 'mia'$$);
SET apikeys.actor = 'alice';
UPDATE apikeys.tenants SET max_key_sets = 9 WHERE tenant_id = 'mem';
SELECT user_id, role FROM apikeys.add_member('mem', 'eve');
INSERT INTO apikeys.members (tenant_id, user_id) VALUES ('mem', 'ed') RETURNING user_id, role, api_access, created_by;
DELETE FROM apikeys.members WHERE tenant_id = 'mem' AND user_id = 'ed';
SELECT err($$UPDATE apikeys.tenants SET max_key_sets = 9 WHERE tenant_id = 'elsewhere'$$);

-- Key sets: an admin with API access.
SET apikeys.actor = 'dave';
SELECT err($$SELECT apikeys.create_key_set('mem', 'reports', '{reports:*}')$$);
SET apikeys.actor = 'alice';
SELECT apikeys.create_key_set('mem', 'reports', '{reports:*}') AS set_id \gset
SET apikeys.actor = 'dave';
SELECT err(format('SELECT apikeys.update_key_set(%s, name => %L)', :set_id, 'x'));
SELECT err(format('UPDATE apikeys.key_sets SET name = %L WHERE key_set_id = %s', 'x', :set_id));

-- Own keys: a member with API access creates, edits, rolls, deactivates, activates and deletes
-- them; not anyone else's, and not without API access.
SET apikeys.actor = 'dave';
SELECT key_id AS dave_key, key AS dave_plain FROM apikeys.create_key('mem', 'dave 1', owner => 'dave') \gset
SELECT apikeys.update_key(:dave_key, name => 'dave one');
SELECT key AS dave_plain FROM apikeys.roll_key(:dave_key, '0') \gset
SELECT apikeys.deactivate_key(:dave_key);
SELECT apikeys.activate_key(:dave_key);
SELECT err($$SELECT apikeys.create_key('mem', 'for mia', owner => 'mia')$$);
SELECT err($$SELECT apikeys.create_key('mem', 'platform')$$);
SET apikeys.actor = 'mia';
SELECT err($$SELECT apikeys.create_key('mem', 'mia 1', owner => 'mia')$$);
SET apikeys.actor = 'max';
SELECT key_id AS max_key FROM apikeys.create_key('mem', 'max 1', owner => 'max') \gset
SELECT err(format('SELECT apikeys.update_key(%s, name => %L)', :dave_key, 'mine now'));
SELECT err(format('SELECT apikeys.deactivate_key(%s)', :dave_key));
SELECT err(format('SELECT apikeys.delete_key(%s)', :dave_key));
SELECT err(format('SELECT apikeys.revoke_key(%s)', :dave_key));
SELECT err(format('UPDATE apikeys.keys SET owner = %L WHERE key_id = %s', 'dave', :max_key));
-- The same rules for plain SQL.
SELECT err(format('UPDATE apikeys.keys SET name = %L WHERE key_id = %s', 'x', :dave_key));
SELECT err(format('UPDATE apikeys.keys SET status = %L WHERE key_id = %s', 'inactive', :dave_key));
SELECT err(format('DELETE FROM apikeys.keys WHERE key_id = %s', :dave_key));
SELECT err(format('UPDATE apikeys.keys SET owner = NULL WHERE key_id = %s', :max_key));
SET apikeys.actor = 'dave';
UPDATE apikeys.keys SET description = 'edited by plain SQL' WHERE key_id = :dave_key RETURNING name, description;
SELECT err(format('UPDATE apikeys.keys SET owner = %L WHERE key_id = %s', 'max', :dave_key));
SET apikeys.actor = 'max';

-- Platform keys: an admin with API access; an admin may give itself API access.
SET apikeys.actor = 'alice';
SELECT apikeys.update_member('mem', 'alice', api_access => false) IS NOT NULL AS switched_off;
SELECT err($$SELECT apikeys.create_key('mem', 'platform')$$);
SELECT err($$SELECT apikeys.create_key_set('mem', 'more')$$);
SELECT apikeys.update_member('mem', 'alice', api_access => true) IS NOT NULL AS switched_on;
SELECT key_id AS platform_key FROM apikeys.create_key('mem', 'platform') \gset
SELECT err(format('SELECT apikeys.update_key(%s, name => %L)', :platform_key, 'renamed'));
SET apikeys.actor = 'dave';
SELECT err(format('SELECT apikeys.update_key(%s, name => %L)', :platform_key, 'x'));
SELECT err(format('SELECT apikeys.revoke_key(%s)', :platform_key));

-- Revoke: one's own keys for anyone, any key of the tenant for an admin.
SET apikeys.actor = 'max';
SELECT apikeys.revoke_key(:max_key, 'mine');
SET apikeys.actor = 'alice';
SELECT apikeys.revoke_key(:platform_key, 'admin');
SELECT key_id AS dave_key2 FROM apikeys.create_key('mem', 'alice makes', owner => 'alice') \gset
SELECT err(format('SELECT apikeys.update_key(%s, name => %L)', :dave_key, 'admins cannot edit others'' keys'));
SELECT count(*) AS revoked FROM apikeys.revoke_keys(ARRAY[:dave_key2]);

-- Another tenant's admin has no right in this one.
SET apikeys.actor = 'olga';
SELECT err(format('SELECT apikeys.revoke_key(%s)', :dave_key));
SELECT err($$SELECT * FROM apikeys.search_keys('mem')$$);
-- Reads of a tenant: any member.
SET apikeys.actor = 'mia';
SELECT name, status FROM apikeys.search_keys('mem') ORDER BY name;
RESET apikeys.actor;
RESET ROLE;
RESET apikeys.enforce_members;

-- Switching a user off: the user's keys answer OWNER_DISABLED until access returns; keys of
-- other owners, of owners who are not members, of tenants without members are not touched.
SELECT code FROM apikeys.verify(:'dave_plain');
SELECT now() AS before_switch \gset
SELECT count(*) FROM apikeys.update_member('mem', 'dave', api_access => false);
SELECT valid, code, key_id FROM apikeys.verify(:'dave_plain');
SELECT owner_disabled FROM apikeys.keys WHERE key_id = :dave_key;
SELECT key AS outsider FROM apikeys.create_key('mem', 'not a member''s', owner => 'outsider') \gset
SELECT code FROM apikeys.verify(:'outsider');
SELECT key AS other_dave FROM apikeys.create_key('elsewhere', 'same name elsewhere', owner => 'dave') \gset
SELECT code FROM apikeys.verify(:'other_dave');
-- A DBA (no enforcement) may still make a key for the user: it is disabled from the start.
SELECT key AS dba_made FROM apikeys.create_key('mem', 'made by the DBA', owner => 'dave') \gset
SELECT code FROM apikeys.verify(:'dba_made');
-- The flag cannot be cleared by hand: the trigger reads the membership.
UPDATE apikeys.keys SET owner_disabled = false WHERE key_id = :dave_key;
SELECT code FROM apikeys.verify(:'dave_plain');
-- Giving the key to another owner re-reads the membership.
UPDATE apikeys.keys SET owner = 'outsider' WHERE key_id = :dave_key;
SELECT code FROM apikeys.verify(:'dave_plain');
UPDATE apikeys.keys SET owner = 'dave' WHERE key_id = :dave_key;
SELECT code FROM apikeys.verify(:'dave_plain');
-- Access given back: every key of the user answers again.
SELECT count(*) FROM apikeys.update_member('mem', 'dave', api_access => true);
SELECT code FROM apikeys.verify(:'dave_plain');
SELECT code FROM apikeys.verify(:'dba_made');
-- Each switch wrote one member event, and no key event.
SELECT action, details - 'user_id' AS details FROM apikeys.events
 WHERE tenant_id = 'mem' AND action LIKE 'member%' ORDER BY at;
SELECT count(*) AS key_events_of_switches FROM apikeys.events
 WHERE key_id = :dave_key AND at >= :'before_switch' AND details ? 'owner_disabled';
-- The token of a switched-off user: refused at issue; with check_revocation, OWNER_DISABLED.
SELECT apikeys.issue_token(left(:'dave_plain', 19), :'dave_plain') AS dave_token \gset
SELECT count(*) FROM apikeys.update_member('mem', 'dave', api_access => false);
SELECT err(format('SELECT apikeys.issue_token(%L, %L)', left(:'dave_plain', 19), :'dave_plain'));
SELECT code FROM apikeys.verify_token(:'dave_token');
SELECT code FROM apikeys.verify_token(:'dave_token', check_revocation => true);
SELECT count(*) FROM apikeys.update_member('mem', 'dave', api_access => true);

-- Removing a member revokes the user's keys (reason: member removed).
SELECT count(*) FROM apikeys.add_member('mem', 'rob', 'developer');
SELECT key_id AS rob_key, key AS rob_plain FROM apikeys.create_key('mem', 'rob 1', owner => 'rob') \gset
SELECT key_id AS rob_key2 FROM apikeys.create_key('mem', 'rob 2', owner => 'rob', expires_in => '1 day') \gset
SELECT apikeys.remove_member('mem', 'rob');
SELECT code FROM apikeys.verify(:'rob_plain');
SELECT key_id = :rob_key AS first, status, revoked_reason FROM apikeys.keys WHERE owner = 'rob' ORDER BY key_id = :rob_key DESC;
SELECT count(*) AS revoked_events FROM apikeys.events WHERE key_id IN (:rob_key, :rob_key2) AND action = 'revoked';

-- The last admin: neither removed nor demoted while the tenant has other members.
SELECT err($$SELECT apikeys.update_member('mem', 'alice', role => 'developer')$$);
SELECT err($$SELECT apikeys.remove_member('mem', 'alice')$$);
SELECT err($$DELETE FROM apikeys.members WHERE tenant_id = 'mem' AND user_id = 'alice'$$);
SELECT err($$UPDATE apikeys.members SET role = 'member' WHERE tenant_id = 'mem'$$);
SELECT count(*) FROM apikeys.update_member('mem', 'dave', role => 'admin');
SELECT role FROM apikeys.update_member('mem', 'alice', role => 'developer');
-- A tenant whose only member is its admin may lose it (it then has no members).
SELECT apikeys.remove_member('elsewhere', 'olga');
SELECT count(*) AS other_members FROM apikeys.members WHERE tenant_id = 'elsewhere';
SELECT err($$UPDATE apikeys.members SET tenant_id = 'elsewhere' WHERE user_id = 'mia'$$);

-- The app role reads no member table by the app grants; the admin grants read it.
SET ROLE apikeys_app;
SELECT err($$SELECT * FROM apikeys.members$$);
RESET ROLE;
SET ROLE apikeys_admin;
SELECT count(*) > 0 AS admin_reads_members FROM apikeys.members;
RESET ROLE;
DROP OWNED BY apikeys_member_app;
DROP ROLE apikeys_member_app;
