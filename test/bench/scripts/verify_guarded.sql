-- apikeys.verify with the caller's address on valid keys of the odd tenants, whose owners
-- are members with API access and which have allowlists: the tenant's, the key set's, and
-- for i % 10 = 1 the key's own (i % 10 in 1, 3, 7, 9: in a key set, never revoked).
\set r random(0, 3)
\set i 10 * random(0, :nkeys / 10 - 1) + 1 + 2 * :r + (case when :r >= 2 then 2 else 0 end)
SELECT apikeys.verify(p.key, NULL, '10.0.1.7') FROM bench.plain p WHERE p.i = :i;
