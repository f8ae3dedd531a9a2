-- apikeys.purge(): keys expired or revoked longer ago than their tenant's retention go, with
-- a 'purged' event each; events older than event_retention go; nothing else is touched; and
-- as_of is never in the future. purge() works on every tenant, so this runs in a database of
-- its own (exact counts). Since as_of may not be in the future, the test moves its data into
-- the past instead (pg_temp.travel, as a superuser with the tables' triggers off).
\set regress_db :DBNAME
CREATE DATABASE apikeys_purge;
\c apikeys_purge
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE EXTENSION apikeys;
CREATE FUNCTION public.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  hint text;
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RETURN regexp_replace(SQLSTATE || ': ' || SQLERRM || coalesce(' HINT: ' || nullif(hint, ''), ''),
                        '[0-9]{6,}', 'N', 'g');
END $$;

-- Tokens that expire and are deleted 180 days later (retention => 180 days).
SELECT tenant_id, retention FROM apikeys.create_tenant('ret', retention => '180 days');
SELECT tenant_id, retention FROM apikeys.create_tenant('keep');
SELECT apikeys.create_key_set('ret', 'set') AS rs \gset
CREATE TEMP TABLE k (name text PRIMARY KEY, key_id bigint);
INSERT INTO k SELECT 'expires in 1 day', key_id FROM apikeys.create_key('ret', 'expires in 1 day', owner => 'amy', expires_in => '1 day');
INSERT INTO k SELECT 'expires in 10 days', key_id FROM apikeys.create_key('ret', 'expires in 10 days', expires_in => '10 days');
INSERT INTO k SELECT 'revoked', key_id FROM apikeys.create_key('ret', 'revoked', key_set_id => :rs);
SELECT apikeys.revoke_key(key_id, 'test') FROM k WHERE name = 'revoked';
INSERT INTO k SELECT 'active forever', key_id FROM apikeys.create_key('ret', 'active forever', key_set_id => :rs);
INSERT INTO k SELECT 'inactive forever', key_id FROM apikeys.create_key('ret', 'inactive forever');
SELECT apikeys.deactivate_key(key_id) FROM k WHERE name = 'inactive forever';
INSERT INTO k SELECT 'keep: expires in 1 day', key_id FROM apikeys.create_key('keep', 'keep: expires in 1 day', expires_in => '1 day');
INSERT INTO k SELECT 'keep: revoked', key_id FROM apikeys.create_key('keep', 'keep: revoked');
SELECT apikeys.revoke_key(key_id) FROM k WHERE name = 'keep: revoked';
CREATE TEMP VIEW left_keys AS SELECT k.name FROM k JOIN apikeys.keys USING (key_id) ORDER BY 1;
-- Moves every key's and event's times `back` into the past.
CREATE FUNCTION pg_temp.travel(back interval) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  SET LOCAL session_replication_role = replica;  -- the triggers would keep the times as they are
  UPDATE apikeys.keys SET created_at = created_at - back, updated_at = updated_at - back,
         expires_at = expires_at - back, revoked_at = revoked_at - back;
  UPDATE apikeys.events SET at = at - back;
END $$;

-- The future is refused: a date after now() would bypass the retention.
SELECT err($$SELECT apikeys.purge(now() + interval '1 second')$$);
SELECT err($$SELECT apikeys.purge('infinity')$$);

-- Everything above happened 400 days ago; "base" is then.
SELECT pg_temp.travel('400 days');
SELECT now() - interval '400 days' AS base \gset

-- Nothing is old enough at base, nor one microsecond before the revoked key's 180 days.
SELECT apikeys.purge(:'base') AS purged;
SELECT apikeys.purge(revoked_at + interval '180 days' - interval '1 microsecond') AS purged
  FROM apikeys.keys JOIN k USING (key_id) WHERE k.name = 'revoked';
-- Exactly 180 days after the revocation: the revoked key goes.
SELECT apikeys.purge(revoked_at + interval '180 days') AS purged
  FROM apikeys.keys JOIN k USING (key_id) WHERE k.name = 'revoked';
SELECT name FROM left_keys;
-- 182 days after base: the key that expired 181 days before goes; the one that expired 172
-- days before stays, and so do live keys and every key of the tenant without retention.
SELECT apikeys.purge(:'base'::timestamptz + interval '182 days') AS purged;
SELECT name FROM left_keys;
-- One 'purged' event per purged key (not 'deleted'), naming it.
SELECT e.action, e.details ->> 'name' AS name, e.details ->> 'status' AS status, e.key_id = k.key_id AS same_key,
       e.key_set_id IS NOT NULL AS has_set
  FROM apikeys.events e JOIN k ON k.key_id = e.key_id
 WHERE e.action IN ('purged', 'deleted') ORDER BY e.at;
-- Nothing left to do: purging is idempotent.
SELECT apikeys.purge(:'base'::timestamptz + interval '182 days') AS purged;
-- A key expired by hand long before goes.
UPDATE apikeys.keys SET expires_at = :'base'::timestamptz - interval '181 days'
 WHERE key_id = (SELECT key_id FROM k WHERE name = 'expires in 10 days');
SELECT apikeys.purge(:'base') AS purged;
SELECT name FROM left_keys;
-- A tenant without retention is never purged, however old its keys (400 days by now).
SELECT apikeys.purge() AS purged;
SELECT name FROM left_keys;
SELECT err($$SELECT apikeys.purge(NULL)$$);

-- Events: a plain DELETE is refused; purge() deletes those older than event_retention.
SELECT err($$DELETE FROM apikeys.events$$);
SELECT err($$DELETE FROM apikeys.events WHERE tenant_id = 'ret'$$);
SELECT err($$TRUNCATE apikeys.events$$);
SELECT tenant_id, count(*) AS events FROM apikeys.events GROUP BY 1 ORDER BY 1;
UPDATE apikeys.tenants SET event_retention = '30 days' WHERE tenant_id = 'ret';
-- Every event 400 days further back, so that 30 days after the newest (that UPDATE's
-- tenant_updated) is in the past.
SELECT pg_temp.travel('400 days');
-- 30 days after the newest event, minus a microsecond: every older event goes, the newest
-- stays; a microsecond later it goes too.
SELECT max(at) AS newest FROM apikeys.events WHERE tenant_id = 'ret' \gset
SELECT apikeys.purge(:'newest'::timestamptz + interval '30 days' - interval '1 microsecond') AS purged;
SELECT tenant_id, action, count(*) AS events FROM apikeys.events GROUP BY 1, 2 ORDER BY 1, 2;
SELECT apikeys.purge(:'newest'::timestamptz + interval '30 days') AS purged;
SELECT tenant_id, count(*) AS events FROM apikeys.events GROUP BY 1 ORDER BY 1;
SELECT err($$DELETE FROM apikeys.events$$);

-- Deleting events is allowed only while purge() runs: an error inside purge() caught by a
-- savepoint does not leave the door open for the rest of the transaction.
CREATE FUNCTION public.fail_on_purged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.action = 'purged' THEN RAISE EXCEPTION 'refusing purged events'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER fail_on_purged BEFORE INSERT ON apikeys.events FOR EACH ROW EXECUTE FUNCTION public.fail_on_purged();
SELECT key_id AS doomed FROM apikeys.create_key('ret', 'doomed', expires_in => '1 day') \gset
SELECT pg_temp.travel('1 year');
BEGIN;
SELECT err($$SELECT apikeys.purge()$$);
SELECT err($$DELETE FROM apikeys.events$$);
ROLLBACK;
DROP TRIGGER fail_on_purged ON apikeys.events;
-- The same purge, without the failing trigger, inside a savepoint that commits.
BEGIN;
SAVEPOINT s;
SELECT apikeys.purge() AS purged;
RELEASE SAVEPOINT s;
SELECT err($$DELETE FROM apikeys.events$$);
COMMIT;
SELECT count(*) AS doomed_left FROM apikeys.keys WHERE key_id = :doomed;

-- Each run left a purge_run record (no tenant) with what it deleted, and no purge deletes
-- those: they are all still here, the newest counting the doomed key.
SELECT count(*) AS purge_runs, count(*) FILTER (WHERE tenant_id IS NULL) AS without_tenant
  FROM apikeys.events WHERE action = 'purge_run';
SELECT details - 'as_of' AS details, actor = current_user AS actor_is_me
  FROM apikeys.events WHERE action = 'purge_run' ORDER BY at DESC LIMIT 1;
-- Not even inside purge() may an event without a tenant be deleted.
BEGIN;
SELECT apikeys._allow_event_purge(true);
SELECT err($$DELETE FROM apikeys.events WHERE tenant_id IS NULL$$);
ROLLBACK;

-- A floor on the retentions: at least a day, so that no purge wipes what just happened.
SELECT err($$UPDATE apikeys.tenants SET event_retention = '1 microsecond' WHERE tenant_id = 'ret'$$);
SELECT err($$UPDATE apikeys.tenants SET retention = '23 hours' WHERE tenant_id = 'ret'$$);
SELECT err($$UPDATE apikeys.tenants SET usage_retention = '1 hour' WHERE tenant_id = 'ret'$$);
SELECT err($$SELECT apikeys.create_tenant('short', event_retention => '1 second')$$);
UPDATE apikeys.tenants SET retention = '1 day', event_retention = '1 day' WHERE tenant_id = 'ret';
-- A tenant of 1.1 may hold a shorter retention (written here with the triggers off): purge
-- still keeps a day of keys and events.
SET session_replication_role = replica;
UPDATE apikeys.tenants SET retention = '1 microsecond', event_retention = '1 microsecond' WHERE tenant_id = 'ret';
RESET session_replication_role;
SELECT key_id AS fresh FROM apikeys.create_key('ret', 'revoked an hour ago') \gset
SELECT apikeys.revoke_key(:fresh);
UPDATE apikeys.keys SET revoked_at = now() - interval '1 hour' WHERE key_id = :fresh;
SELECT apikeys.purge() AS purged;
SELECT k.status, count(e.*) AS its_events
  FROM apikeys.keys k JOIN apikeys.events e USING (key_id) WHERE key_id = :fresh GROUP BY 1;
-- A key that is neither revoked nor expired is never purged, whatever its dates say (here a
-- revoked_at written by hand, with the triggers off, on an active key).
SELECT key_id AS live FROM apikeys.create_key('ret', 'live with a stray date') \gset
SET session_replication_role = replica;
UPDATE apikeys.keys SET revoked_at = now() - interval '400 days' WHERE key_id = :live;
RESET session_replication_role;
SELECT apikeys.purge() AS purged;
SELECT status FROM apikeys.keys WHERE key_id = :live;

-- An admin role with the grant may purge (from pg_cron, say); others may not.
GRANT USAGE ON SCHEMA apikeys TO apikeys_admin;
GRANT EXECUTE ON FUNCTION apikeys.purge TO apikeys_admin;
SET ROLE apikeys_admin;
SELECT apikeys.purge() AS purged;
SELECT err($$DELETE FROM apikeys.events$$);
RESET ROLE;
SET ROLE apikeys_app;
SELECT err($$SELECT apikeys.purge()$$);
RESET ROLE;

\c :regress_db
DROP DATABASE apikeys_purge;
