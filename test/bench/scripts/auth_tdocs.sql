-- The RLS helpers against hand-made policies, the helper side: authenticate, then count(*) over
-- the 1,000,000 rows of bench.tdocs, one transaction. The role picks the policy (schema.sql):
-- bench_tenant_fn[_sub] tenant_id = [(SELECT] apikeys.current_tenant()[)], bench_perm_fn[_sub]
-- [(SELECT] apikeys.has_permission('reports:read')[)]. The keys i % 10 = 5 are valid and hold
-- {reports:read,docs:read} themselves, so that the hand-made side's @> finds the permission too.
\set i 10 * random(0, :nkeys / 10 - 1) + 5
BEGIN;
SELECT apikeys.authenticate(p.key) FROM bench.plain p WHERE p.i = :i;
SELECT count(*) FROM bench.tdocs;
COMMIT;
