-- Row-level security by API key: authenticate binds, policies read the binding; the binding
-- cannot be forged and ends with the transaction. Runs as the app role with only its grants.
SELECT * FROM apikeys.create_tenant('tenant_a') \gset
SELECT * FROM apikeys.create_tenant('tenant_b') \gset
SELECT key AS key_a FROM apikeys.create_key('tenant_a', 'a reader', owner => 'ann', permissions => '{reports:read}') \gset
SELECT key AS key_b FROM apikeys.create_key('tenant_b', 'b writer', owner => 'bob', permissions => '{reports:*}') \gset
SELECT key AS key_none FROM apikeys.create_key('tenant_a', 'no perms', owner => 'ann') \gset
SELECT key AS key_all FROM apikeys.create_key('tenant_a', 'all', permissions => '{*}') \gset
SELECT key_id AS revoked_id, key AS key_revoked FROM apikeys.create_key('tenant_a', 'revoked', permissions => '{*}') \gset
SELECT apikeys.revoke_key(:revoked_id) \gset

-- Application tables, owned by the superuser; the app role is not their owner.
CREATE TABLE invoices (id int PRIMARY KEY, tenant_id text NOT NULL, amount int);
INSERT INTO invoices SELECT i, CASE WHEN i % 3 = 0 THEN 'tenant_b' ELSE 'tenant_a' END, i FROM generate_series(1, 3000) i;
CREATE INDEX ON invoices (tenant_id);
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invoices USING (tenant_id = (SELECT apikeys.current_tenant()));

CREATE TABLE reports (id serial PRIMARY KEY, tenant_id text NOT NULL, body text);
INSERT INTO reports (tenant_id, body) VALUES ('tenant_a', 'a1'), ('tenant_a', 'a2'), ('tenant_b', 'b1');
ALTER TABLE reports ENABLE ROW LEVEL SECURITY;
CREATE POLICY reports_read ON reports FOR SELECT
  USING ((SELECT apikeys.has_permission('reports:read')) AND tenant_id = (SELECT apikeys.current_tenant()));
CREATE POLICY reports_insert ON reports FOR INSERT
  WITH CHECK ((SELECT apikeys.has_permission('reports:write')) AND tenant_id = (SELECT apikeys.current_tenant()));
CREATE POLICY reports_update ON reports FOR UPDATE
  USING ((SELECT apikeys.has_permission('reports:write')) AND tenant_id = (SELECT apikeys.current_tenant()));

CREATE TABLE notes (id int PRIMARY KEY, owner text, body text);
INSERT INTO notes VALUES (1, 'ann', 'ann''s'), (2, 'bob', 'bob''s'), (3, NULL, 'nobody''s');
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_only ON notes USING (owner = (SELECT apikeys.current_owner()));

-- Per-row form of the policy (no InitPlan), to check the parallel-restricted label.
CREATE TABLE big (id int, tenant_id text);
INSERT INTO big SELECT i, CASE WHEN i % 4 = 0 THEN 'tenant_b' ELSE 'tenant_a' END FROM generate_series(1, 20000) i;
ALTER TABLE big ENABLE ROW LEVEL SECURITY;
CREATE POLICY per_row ON big USING (tenant_id = apikeys.current_tenant());
ANALYZE invoices, big;

-- An attacker's function: not leakproof, so RLS quals run before it.
CREATE FUNCTION peek(t text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN RAISE NOTICE 'peek saw %', t; RETURN true; END $$;

-- A plan as EXPLAIN (COSTS OFF) shows it, in PostgreSQL 17's form whatever the version:
-- until 16 an InitPlan's value is $0, announced as "InitPlan 1 (returns $0)" and by a
-- Gather's "Params Evaluated: $0"; since 17 it is "(InitPlan 1).col1" and Gather names none.
CREATE FUNCTION plan_of(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  line text;
BEGIN
  FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || query LOOP
    CONTINUE WHEN line ~ '^ *Params Evaluated: \$0$';
    RETURN NEXT regexp_replace(regexp_replace(line, '^( *InitPlan 1) \(returns \$0\)$', '\1'),
                               '\$0\M', '(InitPlan 1).col1', 'g');
  END LOOP;
END $$;
-- The planner's "force a parallel plan" setting: force_parallel_mode until 15,
-- debug_parallel_query since 16.
SELECT CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'debug_parallel_query'
            ELSE 'force_parallel_mode' END AS parallel_guc \gset

GRANT SELECT, INSERT, UPDATE ON invoices, reports, notes, big TO apikeys_app;
GRANT EXECUTE ON FUNCTION plan_of(text) TO apikeys_app;
GRANT USAGE ON SEQUENCE reports_id_seq TO apikeys_app;
GRANT EXECUTE ON FUNCTION peek(text) TO apikeys_app;

SET ROLE apikeys_app;

-- Nothing bound: helpers are null/false and policies show nothing.
SELECT apikeys.current_key_id(), apikeys.current_tenant(), apikeys.current_owner(),
       apikeys.current_key_set_id(), apikeys.current_permissions(), apikeys.has_permission('reports:read');
SELECT count(*) FROM invoices;

-- Tenant A's key sees exactly tenant A's rows.
BEGIN;
SELECT code, tenant_id FROM apikeys.authenticate(:'key_a');
SELECT apikeys.current_tenant(), apikeys.current_owner(), apikeys.current_permissions(),
       apikeys.current_key_id() IS NOT NULL AS has_key_id;
SELECT tenant_id, count(*) FROM invoices GROUP BY 1;
SELECT body FROM reports ORDER BY id;
SELECT body FROM notes;
-- reports:read does not cover reports:write.
SELECT err($$INSERT INTO reports (tenant_id, body) VALUES ('tenant_a', 'x')$$);
UPDATE reports SET body = 'changed';
COMMIT;

-- After COMMIT nothing is bound.
SELECT apikeys.current_tenant(), apikeys.has_permission('reports:read');
SELECT count(*) FROM invoices;

-- After ROLLBACK nothing is bound.
BEGIN;
SELECT code FROM apikeys.authenticate(:'key_b');
SELECT tenant_id, count(*) FROM invoices GROUP BY 1;
ROLLBACK;
SELECT apikeys.current_tenant();

-- Tenant B's key with reports:* may write its own tenant's reports, not another's.
BEGIN;
SELECT code FROM apikeys.authenticate(:'key_b');
SELECT apikeys.has_permission('reports:write') AS write, apikeys.has_permission('reports:x:y') AS nested,
       apikeys.has_permission('reports') AS bare, apikeys.has_permission('billing:read') AS other,
       apikeys.has_permission(NULL) AS null_perm;
INSERT INTO reports (tenant_id, body) VALUES ('tenant_b', 'b2');
SELECT err($$INSERT INTO reports (tenant_id, body) VALUES ('tenant_a', 'planted')$$);
UPDATE reports SET body = body || '!';
SELECT body FROM reports ORDER BY id;
SELECT body FROM notes;
COMMIT;

-- A key without the permission sees no report; the "*" key has every permission.
BEGIN;
SELECT code FROM apikeys.authenticate(:'key_none');
SELECT count(*) FROM reports;
SELECT code FROM apikeys.authenticate(:'key_all');
SELECT apikeys.has_permission('reports:read'), apikeys.has_permission('anything:at:all'), apikeys.current_owner();
SELECT count(*) FROM reports;
COMMIT;

-- has_permission answers a constant argument once per binding (a policy calls it per row):
-- a new binding in the middle of a statement is seen at once (no ORDER BY: it would evaluate
-- has_permission below the sort, before the volatile authenticate); a varying argument is
-- judged at every call.
BEGIN;
SELECT v.n, (apikeys.authenticate(v.key)).code, apikeys.has_permission('reports:read') AS reports_read
  FROM (VALUES (1, :'key_a'), (2, :'key_none'), (3, :'key_all'), (4, 'ak_bad')) v(n, key);
SELECT code FROM apikeys.authenticate(:'key_b');
SELECT p, apikeys.has_permission(p) FROM unnest(ARRAY['reports:read', 'billing:read', 'reports:write']) p;
COMMIT;

-- A bad key binds nothing and clears an earlier binding of the transaction.
BEGIN;
SELECT code FROM apikeys.authenticate(:'key_a');
SELECT apikeys.current_tenant();
SELECT valid, code FROM apikeys.authenticate('ak_garbage');
SELECT apikeys.current_tenant(), count(*) AS invoices FROM invoices;
SELECT code FROM apikeys.authenticate(:'key_a');
SELECT code FROM apikeys.authenticate(:'key_revoked');
SELECT apikeys.current_tenant();
SELECT code FROM apikeys.authenticate(:'key_a', '{reports:write}');
SELECT apikeys.current_tenant();
SELECT code FROM apikeys.authenticate(NULL);
COMMIT;

-- SET and set_config cannot forge the binding, whatever the name.
BEGIN;
SELECT err($$SET apikeys.current_tenant = 'tenant_a'$$);
SELECT err($$SELECT set_config('apikeys.tenant', 'tenant_a', true)$$);
SET LOCAL app.tenant = 'tenant_a';
SELECT set_config('request.jwt.claim.tenant', 'tenant_a', true) IS NOT NULL AS set;
SET LOCAL apikeys.actor = 'tenant_a';
SELECT apikeys.current_tenant(), apikeys.has_permission('reports:read'), count(*) AS invoices FROM invoices;
COMMIT;

-- A subtransaction that bound and was rolled back leaves nothing bound;
-- one that bound and was released keeps the binding until the transaction ends.
BEGIN;
SAVEPOINT s1;
SELECT code FROM apikeys.authenticate(:'key_b');
ROLLBACK TO SAVEPOINT s1;
SELECT apikeys.current_tenant() AS after_rollback_to;
SAVEPOINT s2;
SELECT code FROM apikeys.authenticate(:'key_b');
RELEASE SAVEPOINT s2;
SELECT apikeys.current_tenant() AS after_release;
SAVEPOINT s3;
SELECT count(*) FROM invoices;
ROLLBACK TO SAVEPOINT s3;
SELECT apikeys.current_tenant() AS binding_of_outer_level_kept;
COMMIT;
-- An error aborts the transaction, and the binding with it.
BEGIN;
SELECT code FROM apikeys.authenticate(:'key_b');
SELECT 1 / 0;
ROLLBACK;
SELECT apikeys.current_tenant() AS after_error;

-- The leak test: the attacker's function only ever sees the bound tenant's rows.
BEGIN;
SELECT code FROM apikeys.authenticate(:'key_b');
SELECT count(*) FROM notes WHERE peek(body);
SELECT count(*) FROM reports WHERE peek(tenant_id || ':' || body);
COMMIT;

-- Parallel query: the policy still filters correctly when the planner goes parallel.
SET :"parallel_guc" = on;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
BEGIN;
SELECT code FROM apikeys.authenticate(:'key_a');
SELECT count(*) FROM big;
SELECT count(*) FROM invoices;
SELECT plan_of('SELECT count(*) FROM invoices');
EXPLAIN (COSTS OFF) SELECT count(*) FROM big;
COMMIT;
BEGIN;
SELECT code FROM apikeys.authenticate(:'key_b');
SELECT count(*) FROM big;
SELECT count(*) FROM invoices;
COMMIT;
RESET :"parallel_guc";
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- The app role cannot reach the internals that would bind or read keys.
SELECT err($$SELECT * FROM apikeys.keys$$);
RESET ROLE;
DROP TABLE invoices, reports, notes, big;
DROP FUNCTION peek(text), plan_of(text);
