-- Audit events: one per change with the actor and old/new values, from the functions and
-- from plain SQL; none for a rolled-back change; append-only; never a secret.
CREATE TEMP VIEW ev AS
  SELECT action, actor, key_id IS NOT NULL AS has_key, key_set_id IS NOT NULL AS has_set, details
    FROM apikeys.events WHERE tenant_id = 'evco' ORDER BY at, event_id;
CREATE TEMP TABLE seen (n bigint);
INSERT INTO seen VALUES (0);
-- The events written since the last call (and the call marks them seen).
CREATE FUNCTION pg_temp.new_events() RETURNS TABLE (action text, actor text, has_key boolean, has_set boolean, details jsonb)
  LANGUAGE sql AS $$
  WITH all_ev AS (SELECT row_number() OVER () AS n, ev.* FROM ev),
       upd AS (UPDATE seen SET n = (SELECT count(*) FROM all_ev) RETURNING 1)
  SELECT action, actor, has_key, has_set, details FROM all_ev, (SELECT n AS seen_n FROM seen) s
   WHERE all_ev.n > s.seen_n AND (SELECT count(*) FROM upd) >= 0 ORDER BY all_ev.n $$;

SET apikeys.actor = 'admin-1';
SELECT tenant_id FROM apikeys.create_tenant('evco', retention => '180 days');
SELECT action, actor, details FROM pg_temp.new_events();
UPDATE apikeys.tenants SET max_keys_per_owner = 2, enabled = false WHERE tenant_id = 'evco';
SELECT action, actor, details FROM pg_temp.new_events();
UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'evco';
UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'evco';  -- no change, no event
SELECT action, details FROM pg_temp.new_events();

SELECT apikeys.create_key_set('evco', 'set one', '{a:*}', owner => 'olga') AS s \gset
SELECT action, actor, has_set, details FROM pg_temp.new_events();
SELECT apikeys.update_key_set(:s, name => 'set 1', permissions => '{a:*,b}');
SELECT action, details FROM pg_temp.new_events();

-- Key events, with the actor taken from SET LOCAL inside the transaction.
BEGIN;
SET LOCAL apikeys.actor = 'user-42';
SELECT key_id AS k FROM apikeys.create_key('evco', 'key one', owner => 'olga', key_set_id => :s) \gset
COMMIT;
SELECT action, actor, has_key, has_set, details - 'client_id' AS details FROM pg_temp.new_events();
SELECT created_by, updated_by FROM apikeys.keys WHERE key_id = :k;
SELECT apikeys.update_key(:k, name => 'key 1', description => 'described');
SELECT action, actor, details FROM pg_temp.new_events();
SELECT apikeys.update_key(:k);  -- nothing changes: no event
SELECT count(*) FROM pg_temp.new_events();
SELECT apikeys.deactivate_key(:k);
SELECT apikeys.activate_key(:k);
SELECT apikeys.activate_key(:k);  -- already active: no event
SELECT action, actor, details FROM pg_temp.new_events();
SELECT key AS rolled FROM apikeys.roll_key(:k, '1 hour') \gset
SELECT action, jsonb_object_keys(details) AS changed FROM pg_temp.new_events();
SET apikeys.actor = 'sec-team';
SELECT apikeys.revoke_key(:k, 'leaked on a forum');
SELECT action, actor, details - 'revoked_at' AS details FROM pg_temp.new_events();
SELECT revoked_by, updated_by FROM apikeys.keys WHERE key_id = :k;
RESET apikeys.actor;

-- With no actor set, the session user is recorded.
SELECT key_id AS k2 FROM apikeys.create_key('evco', 'key two', key_set_id => :s) \gset
SELECT action, actor = session_user AS session_user_recorded FROM pg_temp.new_events();

-- Plain SQL by a DBA is recorded too.
SET apikeys.actor = 'dba';
UPDATE apikeys.keys SET description = 'by hand', owner = 'pat' WHERE key_id = :k2;
SELECT action, actor, details FROM pg_temp.new_events();
SELECT apikeys.deactivate_key(:k2);
DELETE FROM apikeys.keys WHERE key_id = :k2;
SELECT action, actor, details - 'client_id' AS details FROM pg_temp.new_events();
SELECT apikeys.delete_key_set(:s);
SELECT action, actor, details - 'client_id' AS details FROM pg_temp.new_events();
RESET apikeys.actor;

-- A rolled-back change writes no event (and notifies nobody: NOTIFY is transactional).
BEGIN;
SELECT count(*) FROM apikeys.create_key('evco', 'never');
ROLLBACK;
SELECT count(*) AS events_after_rollback FROM pg_temp.new_events();

-- Append-only, even for the superuser that owns the table.
SELECT err($$UPDATE apikeys.events SET actor = 'someone else'$$);
SELECT err($$DELETE FROM apikeys.events$$);
SELECT err($$TRUNCATE apikeys.events$$);
SET ROLE apikeys_admin;
SELECT err($$UPDATE apikeys.events SET actor = 'x'$$);
SELECT err($$DELETE FROM apikeys.events$$);
SELECT count(*) > 0 AS admin_reads_events FROM apikeys.events WHERE tenant_id = 'evco';
RESET ROLE;
-- The flag that lets purge delete is not a setting.
SELECT err($$SET apikeys.purging = on$$);

-- purge: keys past retention become 'purged' events; events past event_retention go.
SELECT key_id AS k3 FROM apikeys.create_key('evco', 'old one', expires_in => '1 day') \gset
SELECT count(*) FROM pg_temp.new_events();
-- (as_of may not be in the future: the key's expiry is moved 182 days back instead, as a
-- superuser with the tables' triggers off)
SET session_replication_role = replica;
UPDATE apikeys.keys SET expires_at = expires_at - interval '182 days' WHERE key_id = :k3;
RESET session_replication_role;
SELECT apikeys.purge() AS purged;
SELECT action, details - 'client_id' AS details FROM pg_temp.new_events();
UPDATE apikeys.tenants SET event_retention = '30 days' WHERE tenant_id = 'evco';
SELECT count(*) AS events_before FROM apikeys.events WHERE tenant_id = 'evco' \gset
SET session_replication_role = replica;
UPDATE apikeys.events SET at = at - interval '31 days' WHERE tenant_id = 'evco';
RESET session_replication_role;
SELECT apikeys.purge() AS purged;
SELECT count(*) AS events_left FROM apikeys.events WHERE tenant_id = 'evco';
-- Outside purge() no event can be deleted (one of a tenant without retention is there).
SELECT count(*) FROM apikeys.create_tenant('evkeep');
SELECT err($$DELETE FROM apikeys.events$$);

-- Indexes serve "events of this tenant, newest first" and "events of this key".
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM apikeys.events WHERE tenant_id = 'evco' ORDER BY at DESC LIMIT 20;
EXPLAIN (COSTS OFF) SELECT * FROM apikeys.events WHERE key_id = 1 ORDER BY at DESC;
RESET enable_seqscan;

-- The NOTIFY payload: JSON with the ids as strings (63-bit ids do not survive JavaScript
-- numbers), the action, time and tenant, and nothing else: no name, owner, actor or
-- secret, so a listener that is not allowed to read the event learns nothing personal. Under
-- 8000 bytes whatever the names (a live LISTEN of it is in test/t/030_notify.pl).
SELECT * FROM apikeys.create_tenant(repeat('t', 200)) \gset
SET apikeys.actor = 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
SELECT key_id AS big_id, key AS big_key FROM apikeys.create_key(repeat('t', 200), repeat('k', 5000), owner => repeat('o', 5000)) \gset
RESET apikeys.actor;
SELECT octet_length(p) < 8000 AS fits, p::json ->> 'action' AS action,
       json_typeof(p::json -> 'key_id') AS key_id_type, (p::json ->> 'key_id')::bigint = :big_id AS key_id_ok,
       (p::json ->> 'event_id')::bigint = e_id AS event_id_ok, json_typeof(p::json -> 'key_set_id') AS no_set,
       strpos(p, :'big_key') = 0 AS no_key, strpos(p, substr(:'big_key', 20, 22)) = 0 AS no_secret,
       strpos(p, 'ooooo') = 0 AS no_owner, strpos(p, 'xxxxx') = 0 AS no_actor,
       (SELECT array_agg(k ORDER BY k) FROM json_object_keys(p::json) k) AS fields
  FROM (SELECT apikeys._event_payload(e) AS p, e.event_id AS e_id FROM apikeys.events e
         WHERE e.key_id = :big_id) x;
-- The worst case: a tenant id of characters that JSON escapes to six bytes each.
SELECT * FROM apikeys.create_tenant(repeat(E'\x01', 200)) \gset
SELECT key_id AS esc_id FROM apikeys.create_key(repeat(E'\x01', 200), 'k', owner => repeat(E'\x03', 3000)) \gset
SELECT octet_length(p) > 1200 AS escaped, octet_length(p) < 8000 AS fits, strpos(p, '\u0003') = 0 AS no_owner
  FROM (SELECT apikeys._event_payload(e) AS p FROM apikeys.events e WHERE e.key_id = :esc_id) x;
