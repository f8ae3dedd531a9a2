-- The reference: plain SQL with pgcrypto, as applications write it (no checksum, no codes,
-- no constant-time comparison, no tenant switch).
\set i 10 * random(0, :nkeys / 10 - 1) + random(1, 9)
SELECT r.id, r.tenant_id, r.owner, r.permissions, r.expires_at
FROM bench.plain p JOIN bench.ref_keys r ON r.key_hash = digest(p.key, 'sha256')
WHERE p.i = :i AND r.revoked_at IS NULL AND (r.expires_at IS NULL OR r.expires_at > now());
