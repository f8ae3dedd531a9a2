-- apikeys.create_key: every trigger, the event and its NOTIFY, and the commit.
-- (:perm is passed with -D perm=reports:read: a literal 'x:y' would read as a variable.)
\set t random(0, 99)
\set o random(1, 100000)
SELECT key_id FROM apikeys.create_key('tenant-' || :t, 'bench', 'user-' || :o, ARRAY[:perm]);
