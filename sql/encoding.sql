-- Invalid UTF-8 can only reach verify in a database whose encoding does not check bytes.
SELECT current_database() AS regdb \gset
CREATE DATABASE apikeys_ascii ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
\c apikeys_ascii
CREATE EXTENSION apikeys;
SELECT * FROM apikeys.create_tenant('t') \gset
SELECT key FROM apikeys.create_key('t', 'k') \gset
SELECT code FROM apikeys.verify(:'key');
-- Raw bytes that are not UTF-8, in the id, the secret and the checksum.
SELECT code FROM apikeys.verify(E'ak_\xff' || substr(:'key', 5));
SELECT code FROM apikeys.verify(substr(:'key', 1, 30) || E'\xc3\x28' || substr(:'key', 33));
SELECT code FROM apikeys.verify(substr(:'key', 1, length(:'key') - 1) || E'\x80');
SELECT code FROM apikeys.verify(E'\xf0\x28\x8c\x28');
\c :regdb
DROP DATABASE apikeys_ascii;
