-- authenticate, then count(*) over the 1,000,000 rows of bench.docs_sub, one transaction.
-- bench_app: policy USING ((SELECT apikeys.has_permission(...))), an InitPlan (README form).
\set i 10 * random(0, :nkeys / 10 - 1) + random(1, 9)
BEGIN;
SELECT apikeys.authenticate(p.key) FROM bench.plain p WHERE p.i = :i;
SELECT count(*) FROM bench.docs_sub;
COMMIT;
