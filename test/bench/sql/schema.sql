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
-- indexes; no triggers, no foreign keys, no event.
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

-- bench_app: an application role, neither superuser nor owner, so policies apply.
-- bench_bypass: the same grants with BYPASSRLS ("RLS off" for the same query).
CREATE ROLE bench_app LOGIN;
CREATE ROLE bench_bypass LOGIN BYPASSRLS;
GRANT USAGE ON SCHEMA bench TO bench_app, bench_bypass;
SELECT apikeys.grant_app('bench_app'), apikeys.grant_app('bench_bypass');
GRANT SELECT ON bench.plain, bench.docs, bench.docs_sub, bench.orders TO bench_app, bench_bypass;
VACUUM (FREEZE, ANALYZE) bench.docs, bench.docs_sub, bench.orders, bench.sets;
