-- apikeys.verify on valid keys of the even tenants (no members, no allowlist, no rate
-- limit): i % 10 in 2, 4 (in a key set, never revoked). The reference of verify_guarded and
-- verify_limited, in the same phase.
\set i 10 * random(0, :nkeys / 10 - 1) + 2 * random(1, 2)
SELECT apikeys.verify(p.key) FROM bench.plain p WHERE p.i = :i;
