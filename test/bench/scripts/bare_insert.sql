-- A bare single-row INSERT into bench.bare_keys (apikeys.keys' columns, defaults and indexes;
-- no trigger, no foreign key, no event), and the commit.
-- (:perm is passed with -D perm=reports:read: a literal 'x:y' would read as a variable.)
\set t random(0, 99)
\set o random(1, 100000)
\set r random(1, 9000000000000000000)
INSERT INTO bench.bare_keys (key_id, client_id, tenant_id, owner, name, permissions, hint, key_hash, hash_scheme)
VALUES (:r, 'ak_' || :r, 'tenant-' || :t, 'user-' || :o, 'bench', ARRAY[:perm], 'abcd',
        '\x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'sha256');
