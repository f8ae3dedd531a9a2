-- Usage metering and rate limits (the server runs with shared_preload_libraries = 'apikeys',
-- apikeys.database_name = 'contrib_regression', apikeys.usage_flush_interval = 1s): what is counted,
-- what reaches apikeys.usage, last_used_at, top_keys, every rate-limit rule, the
-- rate_limited events, purge. Restarts, crashes, standbys, reloads and 8 clients on one key
-- are in test/t/050_usage.pl.
SET apikeys.actor = 'usage-test';
-- Waits (at most 30 s) for the usage writer to finish a flush that started after the call.
CREATE FUNCTION pg_temp.wait_flush() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  t0 timestamptz := clock_timestamp();
BEGIN
  LOOP
    IF (SELECT last_flush FROM apikeys.usage_status()) > t0 + interval '10 ms' THEN
      RETURN true;
    END IF;
    IF clock_timestamp() > t0 + interval '30 seconds' THEN
      RETURN false;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
SELECT pg_temp.wait_flush() AS writer_runs;
SELECT metering, preloaded, tracking, database, slots_total, tenant_slots_total, uncounted, limited_refusals,
       flush_errors, writer_pid IS NOT NULL AS writer_running, flush_lag < interval '30 seconds' AS recent
  FROM apikeys.usage_status();

------------------------------------------------------------------------------------------
-- Counting: every answer that identifies a key, per code; nothing for MALFORMED/NOT_FOUND
------------------------------------------------------------------------------------------
SELECT count(*) FROM apikeys.create_tenant('use');
SELECT key_id AS k1, key AS key1 FROM apikeys.create_key('use', 'one', permissions => '{reports:read}') \gset
SELECT key_id AS k2, key AS key2 FROM apikeys.create_key('use', 'two') \gset
SELECT code FROM apikeys.verify(:'key1');
SELECT code FROM apikeys.verify(:'key1', '{reports:read}');
SELECT code FROM apikeys.verify(:'key1', '{admin}');
SELECT code FROM apikeys.verify(left(:'key1', -1) || 'x');          -- MALFORMED: not counted
SELECT code FROM apikeys.verify((apikeys._generate_key('ak')).key);  -- NOT_FOUND: not counted
SELECT apikeys.deactivate_key(:k1);
SELECT code FROM apikeys.verify(:'key1');
SELECT apikeys.activate_key(:k1);
SELECT code FROM apikeys.verify(:'key2');
-- Before a flush the counts are in shared memory, and key_usage shows them.
SELECT code, count, hour = date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS this_hour
  FROM apikeys.key_usage(:k1) ORDER BY code;
-- authenticate, issue_token, verify_token and authenticate_token count too.
SELECT apikeys.add_signing_key() IS NOT NULL AS signing_key;
SELECT valid FROM apikeys.authenticate(:'key2');
SELECT apikeys.issue_token(left(:'key2', 19), :'key2') AS tok \gset
SELECT code FROM apikeys.verify_token(:'tok');
SELECT code FROM apikeys.authenticate_token(:'tok');
SELECT code FROM apikeys.verify_token('a.b.c');  -- names no key: not counted
SELECT code, count FROM apikeys.key_usage(:k2) ORDER BY code;

-- After a flush: the same totals (flushed and pending are not counted twice), in
-- apikeys.usage, and last_used_at set.
SELECT pg_temp.wait_flush() AS flushed;
SELECT code, count FROM apikeys.usage WHERE key_id = :k1 ORDER BY code;
SELECT code, count FROM apikeys.key_usage(:k1) ORDER BY code;
SELECT sum(count) AS k2_answers FROM apikeys.key_usage(:k2);
SELECT last_used_at IS NOT NULL AS used, last_used_at <= now() AS not_later FROM apikeys.keys WHERE key_id = :k1;
SELECT count(*) AS no_update_events FROM apikeys.events WHERE key_id = :k1 AND action = 'updated';
SELECT tenant_id, hour = date_trunc('hour', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS whole_hour
  FROM apikeys.usage WHERE key_id = :k1 LIMIT 1;
-- last_used_at moves at most once per apikeys.last_used_granularity (10 minutes).
SELECT last_used_at AS used_at FROM apikeys.keys WHERE key_id = :k1 \gset
SELECT code FROM apikeys.verify(:'key1');
SELECT pg_temp.wait_flush() AS flushed;
SELECT last_used_at = :'used_at' AS unchanged FROM apikeys.keys WHERE key_id = :k1;
-- A key that never answered VALID has no last use.
SELECT key_id AS k3, key AS key3 FROM apikeys.create_key('use', 'never valid', permissions => '{}') \gset
SELECT code FROM apikeys.verify(:'key3', '{x}');
SELECT pg_temp.wait_flush() AS flushed;
SELECT last_used_at IS NULL AS never_used FROM apikeys.keys WHERE key_id = :k3;

------------------------------------------------------------------------------------------
-- top_keys: ranked by all answers, split into valid, refused, rate_limited
------------------------------------------------------------------------------------------
SELECT code FROM apikeys.verify(:'key2');  -- "two" now has 6 answers, "one" 5
SELECT name, valid, refused, rate_limited FROM apikeys.top_keys('use');
SELECT name FROM apikeys.top_keys('use', n => 1);
SELECT err($$SELECT * FROM apikeys.top_keys('use', n => 0)$$);
SELECT err($$SELECT * FROM apikeys.top_keys('nobody')$$);
SELECT err($$SELECT * FROM apikeys.key_usage(12345)$$);

------------------------------------------------------------------------------------------
-- Rate limits: validation
------------------------------------------------------------------------------------------
SELECT err($$SELECT apikeys.create_key('use', 'bad', rate_limit => 0, rate_window => '1 minute')$$);
SELECT err($$SELECT apikeys.create_key('use', 'bad', rate_limit => -5, rate_window => '1 minute')$$);
SELECT err($$SELECT apikeys.create_key('use', 'bad', rate_limit => 5)$$);
SELECT err($$SELECT apikeys.create_key('use', 'bad', rate_window => '1 minute')$$);
SELECT err($$SELECT apikeys.create_key('use', 'bad', rate_limit => 5, rate_window => '0')$$);
SELECT err($$SELECT apikeys.create_key('use', 'bad', rate_limit => 5, rate_window => '-1 minute')$$);
SELECT err($$SELECT apikeys.create_key_set('use', 'bad', rate_limit => 5)$$);
SELECT err($$SELECT apikeys.create_tenant('bad', rate_limit => 0, rate_window => '1 second')$$);
SELECT err($$SELECT apikeys.create_tenant('bad', key_rate_limit => 3)$$);
SELECT err($$UPDATE apikeys.tenants SET rate_limit = 10 WHERE tenant_id = 'use'$$);

------------------------------------------------------------------------------------------
-- Rate limits: an exact burst, then RATE_LIMITED (no details, nothing bound)
------------------------------------------------------------------------------------------
SELECT key_id AS r1, key AS rkey1 FROM apikeys.create_key('use', 'limited', rate_limit => 3, rate_window => '1 hour') \gset
SELECT rate_limit, rate_window FROM apikeys.keys WHERE key_id = :r1;
SELECT i, (apikeys.verify(:'rkey1')).code FROM generate_series(1, 5) i;
SELECT * FROM apikeys.verify(:'rkey1');
BEGIN;
SELECT valid, code FROM apikeys.authenticate(:'rkey1');
SELECT apikeys.current_key_id() IS NULL AS nothing_bound;
COMMIT;
-- RATE_LIMITED comes last: a refusal for another reason does not take from the allowance.
SELECT key AS rkey2 FROM apikeys.create_key('use', 'limited 2', permissions => '{a}', rate_limit => 1, rate_window => '1 hour') \gset
SELECT (apikeys.verify(:'rkey2', '{b}')).code AS insufficient, (apikeys.verify(:'rkey2', '{b}')).code AS again;
SELECT (apikeys.verify(:'rkey2')).code AS first_valid, (apikeys.verify(:'rkey2', '{b}')).code AS still_insufficient,
       (apikeys.verify(:'rkey2')).code AS then_limited;
-- A short window refills: 2 per second.
SELECT key AS fast FROM apikeys.create_key('use', 'fast', rate_limit => 2, rate_window => '1 second') \gset
SELECT (apikeys.verify(:'fast')).code AS a, (apikeys.verify(:'fast')).code AS b, (apikeys.verify(:'fast')).code AS c;
SELECT pg_sleep(1.1);
SELECT (apikeys.verify(:'fast')).code AS after_a_second;
-- rate_limit => 0 removes the key's limit; a plain UPDATE sets one.
SELECT apikeys.update_key(:r1, rate_limit => 0);
SELECT rate_limit IS NULL AND rate_window IS NULL AS removed FROM apikeys.keys WHERE key_id = :r1;
SELECT (apikeys.verify(:'rkey1')).code AS unlimited;
UPDATE apikeys.keys SET rate_limit = 1, rate_window = '1 day' WHERE key_id = :r1;
SELECT (apikeys.verify(:'rkey1')).code AS limited_again;
SELECT err(format('UPDATE apikeys.keys SET rate_limit = 0 WHERE key_id = %s', :r1));

------------------------------------------------------------------------------------------
-- Inheritance: the key's own limit, else its set's, else the tenant's key_rate_limit; and
-- the tenant-wide rate_limit over all its keys
------------------------------------------------------------------------------------------
SELECT count(*) FROM apikeys.create_tenant('lim', key_rate_limit => 2, key_rate_window => '1 hour');
SELECT apikeys.create_key_set('lim', 'set of 4', rate_limit => 4, rate_window => '1 hour') AS s4 \gset
SELECT key AS by_tenant FROM apikeys.create_key('lim', 'tenant default') \gset
SELECT key AS by_set FROM apikeys.create_key('lim', 'set default', key_set_id => :s4) \gset
SELECT key AS by_key FROM apikeys.create_key('lim', 'own', key_set_id => :s4, rate_limit => 1, rate_window => '1 hour') \gset
SELECT (SELECT count(*) FILTER (WHERE (apikeys.verify(:'by_tenant')).code = 'VALID') FROM generate_series(1, 10)) AS tenant_2,
       (SELECT count(*) FILTER (WHERE (apikeys.verify(:'by_set')).code = 'VALID') FROM generate_series(1, 10)) AS set_4,
       (SELECT count(*) FILTER (WHERE (apikeys.verify(:'by_key')).code = 'VALID') FROM generate_series(1, 10)) AS key_1;
SELECT count(*) FROM apikeys.create_tenant('wide', rate_limit => 5, rate_window => '1 hour');
SELECT key AS w1 FROM apikeys.create_key('wide', 'w1') \gset
SELECT key AS w2 FROM apikeys.create_key('wide', 'w2', rate_limit => 100, rate_window => '1 hour') \gset
SELECT (apikeys.verify(:'w1')).code, (apikeys.verify(:'w2')).code, (apikeys.verify(:'w1')).code,
       (apikeys.verify(:'w2')).code, (apikeys.verify(:'w1')).code, (apikeys.verify(:'w2')).code;
-- The tenant's refusal took nothing from w2's own allowance: of its 100, the 2 VALID answers
-- took 2; with the tenant limit lifted, 98 are left.
UPDATE apikeys.tenants SET rate_limit = NULL, rate_window = NULL WHERE tenant_id = 'wide';
SELECT (SELECT count(*) FILTER (WHERE (apikeys.verify(:'w2')).code = 'VALID') FROM generate_series(1, 200)) AS w2_rest_98;

------------------------------------------------------------------------------------------
-- Tokens carry the limits (claim "rl") and take from the same allowance
------------------------------------------------------------------------------------------
SELECT key_id AS tk, key AS tkey FROM apikeys.create_key('use', 'token limited', rate_limit => 3, rate_window => '1 hour') \gset
SELECT apikeys.issue_token(left(:'tkey', 19), :'tkey') AS ttok \gset
SELECT convert_from(decode(translate(split_part(:'ttok', '.', 2), '-_', '+/')
         || repeat('=', (4 - length(split_part(:'ttok', '.', 2)) % 4) % 4), 'base64'), 'UTF8')::jsonb -> 'rl' AS rl;
SELECT (apikeys.verify_token(:'ttok')).code AS a, (apikeys.verify(:'tkey')).code AS b,
       (apikeys.verify_token(:'ttok')).code AS c, (apikeys.authenticate_token(:'ttok')).code AS d;
SELECT err(format('SELECT apikeys.issue_token(%L, %L)', left(:'tkey', 19), :'tkey'));

------------------------------------------------------------------------------------------
-- One rate_limited event per key and window, and one per tenant (written by the writer)
------------------------------------------------------------------------------------------
SELECT pg_temp.wait_flush() AS flushed;
SELECT k.name, e.details ->> 'scope' AS scope, e.details ->> 'rate_limit' AS rate_limit,
       e.details ->> 'rate_window' AS rate_window, e.actor
  FROM apikeys.events e JOIN apikeys.keys k USING (key_id)
 WHERE e.action = 'rate_limited' AND e.tenant_id = 'use' ORDER BY k.name;
SELECT e.tenant_id, k.name, e.details ->> 'scope' AS scope, e.details ->> 'rate_limit' AS rate_limit
  FROM apikeys.events e LEFT JOIN apikeys.keys k USING (key_id)
 WHERE e.action = 'rate_limited' AND e.tenant_id IN ('lim', 'wide') ORDER BY e.tenant_id, scope, k.name;
SELECT name, valid, rate_limited FROM apikeys.top_keys('use') WHERE rate_limited > 0 ORDER BY name;

------------------------------------------------------------------------------------------
-- purge() deletes usage older than the tenant's usage_retention, and never in the future
------------------------------------------------------------------------------------------
UPDATE apikeys.tenants SET usage_retention = '30 days' WHERE tenant_id = 'use';
INSERT INTO apikeys.usage (key_id, tenant_id, hour, code, count)
VALUES (:k1, 'use', date_trunc('hour', now()) - interval '40 days', 'VALID', 7),
       (:k1, 'use', date_trunc('hour', now()) - interval '20 days', 'VALID', 5),
       (424242, 'gone tenant', date_trunc('hour', now()) - interval '1 day', 'VALID', 1);
SELECT apikeys.purge() >= 0 AS purged;
SELECT count(*) FILTER (WHERE hour < now() - interval '30 days') AS old_rows,
       count(*) FILTER (WHERE hour BETWEEN now() - interval '30 days' AND now() - interval '2 days') AS kept
  FROM apikeys.usage WHERE key_id = :k1;
SELECT count(*) AS orphans FROM apikeys.usage WHERE tenant_id = 'gone tenant';
SELECT err($$SELECT apikeys.purge(now() + interval '1 day')$$);
SELECT err($$SELECT apikeys.purge(NULL)$$);
SELECT flush_errors, uncounted, limited_refusals FROM apikeys.usage_status();
