-- After loading keys :first..:last: the reference table gets the same keys (hashed with
-- pgcrypto, same tenant, status and expiry; unless :ref is 0), then rows with i % 20 = 10
-- of bench.plain are made malformed (last checksum digit changed), and everything is vacuumed
-- and analysed.
\set ON_ERROR_STOP on
\if :ref
INSERT INTO bench.ref_keys (id, key_hash, tenant_id, owner, permissions, revoked_at, expires_at)
SELECT p.i, digest(p.key, 'sha256'), k.tenant_id, k.owner, k.permissions, k.revoked_at, k.expires_at
FROM bench.plain p JOIN apikeys.keys k ON k.client_id = left(p.key, 19)
WHERE p.i BETWEEN :first AND :last;
\endif
UPDATE bench.plain SET key = left(key, -1) || CASE WHEN right(key, 1) = '0' THEN '1' ELSE '0' END
WHERE i BETWEEN :first AND :last AND i % 20 = 10;
VACUUM (ANALYZE) apikeys.keys, apikeys.tenants, bench.plain, bench.ref_keys;
