-- The whole transaction with a hand-made tenant isolation, against auth_point.sql as bench_app:
-- the key looked up as the reference variant does (pgcrypto SQL), its tenant and permissions
-- set with set_config, then a point query on bench.orders_hand (policy
-- tenant_id = (SELECT current_setting('app.tenant'))), one transaction.
\set i 10 * random(0, :nkeys / 10 - 1) + random(1, 9)
\set o random(1, 100000)
BEGIN;
SELECT set_config('app.tenant', r.tenant_id, true), set_config('app.perms', r.permissions::text, true)
FROM bench.plain p JOIN bench.ref_keys r ON r.key_hash = digest(p.key, 'sha256')
WHERE p.i = :i AND r.revoked_at IS NULL AND (r.expires_at IS NULL OR r.expires_at > now());
SELECT order_id, amount FROM bench.orders_hand WHERE order_id = :o;
COMMIT;
