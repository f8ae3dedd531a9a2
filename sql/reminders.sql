-- Expiry reminders: an expiring event per key and threshold, exactly once; re-armed by
-- extending or rolling the key; expiring_keys. (Concurrent runs: test/isolation; the pg_cron
-- recipe: test/t/011_pg_cron.pl.) send_expiry_reminders() covers every tenant, so this runs
-- in a database of its own (exact counts).
\set regress_db :DBNAME
CREATE DATABASE apikeys_reminders;
\c apikeys_reminders
SET client_min_messages = warning;
CREATE EXTENSION apikeys;
CREATE FUNCTION public.err(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SET apikeys.actor = 'reminders-test';
SET TimeZone = 'UTC';
SELECT tenant_id, expiry_reminders FROM apikeys.create_tenant('rem');
SELECT expiry_reminders FROM apikeys.create_tenant('rem_none', expiry_reminders => '{}');
SELECT err($$SELECT apikeys.create_tenant('rem_bad', expiry_reminders => '{1 day, -1 hour}')$$);
SELECT err($$UPDATE apikeys.tenants SET expiry_reminders = '{0}' WHERE tenant_id = 'rem'$$);
CREATE TEMP TABLE k (name text PRIMARY KEY, key_id bigint);
INSERT INTO k SELECT 'in 12 hours', key_id FROM apikeys.create_key('rem', 'in 12 hours', owner => 'amy', expires_in => '12 hours');
INSERT INTO k SELECT 'in 3 days', key_id FROM apikeys.create_key('rem', 'in 3 days', owner => 'bob', expires_in => '3 days');
INSERT INTO k SELECT 'in 30 days', key_id FROM apikeys.create_key('rem', 'in 30 days', expires_in => '30 days');
INSERT INTO k SELECT 'never', key_id FROM apikeys.create_key('rem', 'never');
INSERT INTO k SELECT 'revoked', key_id FROM apikeys.create_key('rem', 'revoked', expires_in => '1 day');
SELECT apikeys.revoke_key(key_id) FROM k WHERE name = 'revoked';
INSERT INTO k SELECT 'inactive', key_id FROM apikeys.create_key('rem', 'inactive', expires_in => '2 days');
SELECT apikeys.deactivate_key(key_id) FROM k WHERE name = 'inactive';
INSERT INTO k SELECT 'no reminders', key_id FROM apikeys.create_key('rem_none', 'no reminders', expires_in => '1 hour');
CREATE TEMP VIEW expiring AS
  SELECT k.name, e.details ->> 'threshold' AS threshold, (e.details ->> 'expires_at')::timestamptz = x.expires_at AS at_expiry,
         e.actor
    FROM apikeys.events e JOIN k USING (key_id) JOIN apikeys.keys x USING (key_id)
   WHERE e.action = 'expiring' ORDER BY k.name, e.at;

-- expiring_keys: live keys within the time, soonest first.
SELECT name, owner FROM apikeys.expiring_keys('rem');
SELECT name FROM apikeys.expiring_keys('rem', '1 day');
SELECT name FROM apikeys.expiring_keys('rem', '365 days');
SELECT err($$SELECT * FROM apikeys.expiring_keys('nobody')$$);

-- The first run: the key within 1 day gets one event (the nearest threshold; 7 days is
-- covered too), those within 7 days one each, the inactive key too (it is live); not the
-- revoked key, not the far or endless ones, not a tenant without thresholds.
SELECT apikeys.send_expiry_reminders() AS sent;
SELECT * FROM expiring;
SELECT k.name, r.threshold FROM apikeys.reminders r JOIN k USING (key_id) ORDER BY 1, 2;
-- Exactly once: running again sends nothing.
SELECT apikeys.send_expiry_reminders() AS sent_again;
-- Later, the 3-day key comes within 1 day: only that threshold is new.
SELECT apikeys.send_expiry_reminders(now() + interval '2 days 1 hour') AS sent_later;
SELECT name, threshold FROM expiring WHERE name = 'in 3 days';
-- Rolling a key or extending it re-arms its reminders; other changes do not.
SELECT apikeys.update_key(key_id, name => 'renamed 12h') FROM k WHERE name = 'in 12 hours';
SELECT apikeys.send_expiry_reminders() AS after_rename;
SELECT count(*) FROM apikeys.roll_key((SELECT key_id FROM k WHERE name = 'in 12 hours'), '0');
SELECT apikeys.send_expiry_reminders() AS after_roll;
UPDATE apikeys.keys SET expires_at = expires_at + interval '2 days' WHERE key_id = (SELECT key_id FROM k WHERE name = 'inactive');
SELECT apikeys.send_expiry_reminders() AS after_extension;
SELECT name, threshold FROM expiring WHERE name IN ('in 12 hours', 'inactive');
-- A deleted key takes its reminders with it.
SELECT apikeys.delete_key(key_id) FROM k WHERE name = 'in 30 days';
SELECT count(*) AS orphans FROM apikeys.reminders r WHERE NOT EXISTS (SELECT FROM apikeys.keys x WHERE x.key_id = r.key_id);
SELECT err($$SELECT apikeys.send_expiry_reminders(NULL)$$);
-- The events name no person in their NOTIFY payload (the consumer reads the row by id).
SELECT count(*) AS payloads_with_owner FROM apikeys.events e
 WHERE e.action = 'expiring' AND apikeys._event_payload(e)::jsonb ? 'owner';

\c :regress_db
DROP DATABASE apikeys_reminders;
