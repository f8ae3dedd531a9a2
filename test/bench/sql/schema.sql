-- apikeys benchmark: schema, roles, tenants, key sets and the side tables of the pgbench
-- scripts. Run once on a fresh throwaway cluster (test/bench/run.sh) as a superuser.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION apikeys;
CREATE EXTENSION pgcrypto;    -- the hand-written reference: digest(key, 'sha256')
CREATE EXTENSION pg_prewarm;  -- every measured relation is in shared_buffers before a run

CREATE SCHEMA bench;

-- 100 tenants, 5 key sets each (every set's permissions cover reports:read).
SET apikeys.actor = 'bench';
INSERT INTO apikeys.tenants (tenant_id, max_active_keys_per_set)
SELECT 'tenant-' || t, 1000000 FROM generate_series(0, 99) t;
CREATE TABLE bench.sets (tenant_no int, set_no int, key_set_id bigint, permissions text[],
                         PRIMARY KEY (tenant_no, set_no));
WITH perms(set_no, permissions) AS (VALUES
    (0, '{reports:read,docs:*}'::text[]), (1, '{reports:*}'), (2, '{*}'),
    (3, '{reports:read,reports:write,billing:read}'), (4, '{docs:read,reports:read}'))
INSERT INTO bench.sets
SELECT t, p.set_no, apikeys.create_key_set('tenant-' || t, 'set ' || p.set_no, p.permissions), p.permissions
FROM generate_series(0, 99) t, perms p ORDER BY t, p.set_no;

-- The presented keys: i -> plaintext (rows with i % 20 = 10 hold a malformed key, see
-- finish.sql; keys with i % 20 = 0 are revoked).
CREATE TABLE bench.plain (i int PRIMARY KEY, key text NOT NULL);

-- The reference: verification the way applications write it in plain SQL with pgcrypto.
CREATE TABLE bench.ref_keys (
  id bigint PRIMARY KEY,
  key_hash bytea NOT NULL,      -- digest(key, 'sha256')
  tenant_id text NOT NULL,
  owner text,
  permissions text[] NOT NULL,
  revoked_at timestamptz,
  expires_at timestamptz
);
CREATE UNIQUE INDEX ref_keys_hash ON bench.ref_keys (key_hash);

-- A bare single-row INSERT target shaped like apikeys.keys: same columns, defaults and
-- indexes; no triggers, no foreign keys, no event. run.sh copies the loaded keys into it, so
-- that it is as large as apikeys.keys.
CREATE TABLE bench.bare_keys (LIKE apikeys.keys INCLUDING DEFAULTS INCLUDING INDEXES);

-- A 1,000,000-row table behind a has_permission policy (count(*) variants).
CREATE TABLE bench.docs (doc_id int PRIMARY KEY, tenant_id text NOT NULL, amount int NOT NULL);
INSERT INTO bench.docs SELECT d, 'tenant-' || (d % 100), d % 1000 FROM generate_series(1, 1000000) d;
ALTER TABLE bench.docs ENABLE ROW LEVEL SECURITY;
CREATE POLICY docs_read ON bench.docs FOR SELECT USING (apikeys.has_permission('reports:read'));
-- The same rows behind the README's form of that policy: the helper wrapped in (SELECT ...),
-- an InitPlan evaluated once per statement instead of once per row.
CREATE TABLE bench.docs_sub (LIKE bench.docs INCLUDING ALL);
INSERT INTO bench.docs_sub SELECT * FROM bench.docs;
ALTER TABLE bench.docs_sub ENABLE ROW LEVEL SECURITY;
CREATE POLICY docs_read ON bench.docs_sub FOR SELECT USING ((SELECT apikeys.has_permission('reports:read')));

-- A 100,000-row tenant-isolated table (point-query variants), the README's policy shape.
CREATE TABLE bench.orders (order_id int PRIMARY KEY, tenant_id text NOT NULL, amount int NOT NULL);
INSERT INTO bench.orders SELECT o, 'tenant-' || (o % 100), o % 1000 FROM generate_series(1, 100000) o;
ALTER TABLE bench.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bench.orders
  USING (tenant_id = (SELECT apikeys.current_tenant()));

-- The same 100,000 rows behind the tenant isolation users write by hand (the application sets
-- app.tenant with set_config after its own lookup of the key).
CREATE TABLE bench.orders_hand (LIKE bench.orders INCLUDING ALL);
INSERT INTO bench.orders_hand SELECT * FROM bench.orders;
ALTER TABLE bench.orders_hand ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON bench.orders_hand
  USING (tenant_id = (SELECT current_setting('app.tenant')));

-- The RLS helpers against the policies users write by hand (SPEC §6): the rows of bench.docs
-- (1,000,000; 100 tenants of 10,000 rows) once more, with one policy per form, each for a role
-- of its own: a policy for other roles is left out at planning, so each role's scan pays
-- exactly one. The hand-made ones read what the application set with set_config in the
-- transaction (app.tenant, app.perms: the key's permissions as a text[] literal).
CREATE TABLE bench.tdocs (LIKE bench.docs INCLUDING ALL);
INSERT INTO bench.tdocs SELECT * FROM bench.docs;
ALTER TABLE bench.tdocs ENABLE ROW LEVEL SECURITY;
CREATE ROLE bench_tenant_fn LOGIN;
CREATE ROLE bench_tenant_set LOGIN;
CREATE ROLE bench_tenant_fn_sub LOGIN;
CREATE ROLE bench_tenant_set_sub LOGIN;
CREATE ROLE bench_perm_fn LOGIN;
CREATE ROLE bench_perm_set LOGIN;
CREATE ROLE bench_perm_fn_sub LOGIN;
CREATE ROLE bench_perm_set_sub LOGIN;
CREATE POLICY tenant_fn ON bench.tdocs FOR SELECT TO bench_tenant_fn
  USING (tenant_id = apikeys.current_tenant());
CREATE POLICY tenant_set ON bench.tdocs FOR SELECT TO bench_tenant_set
  USING (tenant_id = current_setting('app.tenant'));
CREATE POLICY tenant_fn_sub ON bench.tdocs FOR SELECT TO bench_tenant_fn_sub
  USING (tenant_id = (SELECT apikeys.current_tenant()));
CREATE POLICY tenant_set_sub ON bench.tdocs FOR SELECT TO bench_tenant_set_sub
  USING (tenant_id = (SELECT current_setting('app.tenant')));
CREATE POLICY perm_fn ON bench.tdocs FOR SELECT TO bench_perm_fn
  USING (apikeys.has_permission('reports:read'));
CREATE POLICY perm_set ON bench.tdocs FOR SELECT TO bench_perm_set
  USING (current_setting('app.perms')::text[] @> '{reports:read}');
CREATE POLICY perm_fn_sub ON bench.tdocs FOR SELECT TO bench_perm_fn_sub
  USING ((SELECT apikeys.has_permission('reports:read')));
CREATE POLICY perm_set_sub ON bench.tdocs FOR SELECT TO bench_perm_set_sub
  USING ((SELECT current_setting('app.perms')::text[] @> '{reports:read}'));

-- bench_app: an application role, neither superuser nor owner, so policies apply.
-- bench_bypass: the same grants with BYPASSRLS ("RLS off" for the same query).
-- The bench_tenant_* and bench_perm_* roles: the same, each under its policy of bench.tdocs.
-- Every role may read bench.ref_keys: the hand-made variants look their key up there.
CREATE ROLE bench_app LOGIN;
CREATE ROLE bench_bypass LOGIN BYPASSRLS;
DO $$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY '{bench_app,bench_bypass,bench_tenant_fn,bench_tenant_set,bench_tenant_fn_sub,bench_tenant_set_sub,
                       bench_perm_fn,bench_perm_set,bench_perm_fn_sub,bench_perm_set_sub}'::text[] LOOP
    EXECUTE format('GRANT USAGE ON SCHEMA bench TO %I', r);
    PERFORM apikeys.grant_app(r::regrole);
    EXECUTE format('GRANT SELECT ON bench.plain, bench.ref_keys, bench.docs, bench.docs_sub, bench.orders, bench.orders_hand,
                    bench.tdocs TO %I', r);
  END LOOP;
END $$;
VACUUM (FREEZE, ANALYZE) bench.docs, bench.docs_sub, bench.tdocs, bench.orders, bench.orders_hand, bench.sets;
