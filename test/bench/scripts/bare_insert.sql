-- A bare single-row INSERT into bench.bare_keys (apikeys.keys' columns, defaults and indexes;
-- no trigger, no foreign key, no event; run.sh fills it with a copy of the stored keys), and
-- the commit.
-- (:perm is passed with -D perm=reports:read: a literal 'x:y' would read as a variable.)
\set t random(0, 99)
\set o random(1, 100000)
-- The client id is well formed (ak_ and 16 base62 digits) and the key id the one it determines,
-- as create_key makes them: the copied indexes include apikeys.keys' partial index on the
-- client ids of 1.0's keys, whose predicate reads both.
\set r random(1, 9999999999999999)
INSERT INTO bench.bare_keys (key_id, client_id, tenant_id, owner, name, permissions, hint, key_hash, hash_scheme)
VALUES (apikeys._key_id_of('ak_' || lpad(CAST(:r AS text), 16, '0')), 'ak_' || lpad(CAST(:r AS text), 16, '0'),
        'tenant-' || :t, 'user-' || :o, 'bench', ARRAY[:perm], 'abcd',
        '\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'sha256');
