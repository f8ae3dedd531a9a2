-- The RLS helpers against hand-made policies, the hand-made side: the key looked up as the
-- reference variant does (pgcrypto SQL), its tenant and permissions set with set_config for the
-- transaction, then count(*) over the 1,000,000 rows of bench.tdocs. The role picks the policy
-- (schema.sql): bench_tenant_set[_sub] tenant_id = [(SELECT] current_setting('app.tenant')[)],
-- bench_perm_set[_sub] [(SELECT] current_setting('app.perms')::text[] @> '{reports:read}'[)].
-- The same keys as auth_tdocs.sql (i % 10 = 5).
\set i 10 * random(0, :nkeys / 10 - 1) + 5
BEGIN;
SELECT set_config('app.tenant', r.tenant_id, true), set_config('app.perms', r.permissions::text, true)
FROM bench.plain p JOIN bench.ref_keys r ON r.key_hash = digest(p.key, 'sha256')
WHERE p.i = :i AND r.revoked_at IS NULL AND (r.expires_at IS NULL OR r.expires_at > now());
SELECT count(*) FROM bench.tdocs;
COMMIT;
