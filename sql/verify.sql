-- verify: every code, bad input, no table touched for malformed keys, read-only.
SELECT * FROM apikeys.create_tenant('acme') \gset t_
SELECT apikeys.create_key_set('acme', 'reporting', '{reports:*,admin:read}') AS set_id \gset
SELECT key_id, key FROM apikeys.create_key('acme', 'good', owner => 'alice', key_set_id => :set_id) \gset good_

-- VALID carries the details.
SELECT valid, code, key_id = :good_key_id AS same_key, tenant_id, owner, key_set_id = :set_id AS same_set,
       permissions, expires_at FROM apikeys.verify(:'good_key');
-- Required permissions: exact, wildcard, missing, NULL element.
SELECT code FROM apikeys.verify(:'good_key', '{reports:read}');
SELECT code FROM apikeys.verify(:'good_key', '{reports:read,admin:read}');
SELECT code FROM apikeys.verify(:'good_key', '{}');
SELECT code, key_id, tenant_id, permissions FROM apikeys.verify(:'good_key', '{admin:write}');
SELECT code FROM apikeys.verify(:'good_key', ARRAY[NULL]::text[]);

-- MALFORMED: NULL, empty, huge, wrong prefix, broken checksum, invalid bytes, truncated.
SELECT valid, code, key_id FROM apikeys.verify(NULL);
SELECT code FROM apikeys.verify('');
SELECT code FROM apikeys.verify(repeat('a', 1024 * 1024));
SELECT code FROM apikeys.verify(repeat(:'good_key', 20000));
SELECT code FROM apikeys.verify('AK' || substr(:'good_key', 3));
SELECT code FROM apikeys.verify('xx' || :'good_key');
SELECT code FROM apikeys.verify(substr(:'good_key', 1, length(:'good_key') - 1));
SELECT code FROM apikeys.verify(:'good_key' || 'x');
-- Change one character of the secret: the checksum no longer matches.
SELECT code FROM apikeys.verify(overlay(:'good_key' PLACING
  CASE WHEN substr(:'good_key', 25, 1) = 'a' THEN 'b' ELSE 'a' END FROM 25 FOR 1));
SELECT code FROM apikeys.verify(E'ak_\u00e9' || substr(:'good_key', 5));
SELECT code FROM apikeys.verify(upper(:'good_key'));

-- NOT_FOUND: an unknown client id, and a wrong secret (with a valid checksum) for a real one.
SELECT code FROM apikeys.verify((apikeys._generate_key('ak')).key);
SELECT (apikeys._generate_key('ak', split_part(:'good_key', '_', 1) || '_' || substr(:'good_key', 4, 16))).key AS forged \gset
SELECT :'forged' <> :'good_key' AS differs, left(:'forged', 19) = left(:'good_key', 19) AS same_client_id;
SELECT valid, code, key_id, tenant_id FROM apikeys.verify(:'forged');

-- INACTIVE, REVOKED, EXPIRED, TENANT_DISABLED: only VALID carries details.
SELECT key_id, key FROM apikeys.create_key('acme', 'paused') \gset paused_
SELECT apikeys.deactivate_key(:paused_key_id);
SELECT valid, code, key_id, owner FROM apikeys.verify(:'paused_key');
SELECT key_id, key FROM apikeys.create_key('acme', 'gone') \gset gone_
SELECT apikeys.revoke_key(:gone_key_id, 'test');
SELECT valid, code, key_id FROM apikeys.verify(:'gone_key');
SELECT key_id, key FROM apikeys.create_key('acme', 'old', expires_in => '1 hour') \gset old_
SELECT code FROM apikeys.verify(:'old_key');
UPDATE apikeys.keys SET expires_at = now() - interval '1 second' WHERE key_id = :old_key_id;
SELECT valid, code, key_id FROM apikeys.verify(:'old_key');
SELECT * FROM apikeys.create_tenant('off') \gset
SELECT key FROM apikeys.create_key('off', 'k') \gset off_
SELECT code FROM apikeys.verify(:'off_key');
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'off';
SELECT valid, code, tenant_id FROM apikeys.verify(:'off_key');
UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'off';
SELECT code FROM apikeys.verify(:'off_key');
-- A revoked key of a disabled tenant says REVOKED: the key's own state comes first.
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'acme';
SELECT code FROM apikeys.verify(:'gone_key');
SELECT code FROM apikeys.verify(:'good_key');
UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'acme';

-- One primary-key probe per verify, none for a malformed key; the tenant switch is read
-- once, then comes from the backend's cache until a tenant changes. Counted by the
-- statistics system: :probes gives each index's probes so far (client_id_idx: the unique
-- client id index and, since 1.2, the index of 1.0's client ids, which verify probes after an
-- empty primary-key probe).
\set probes 'SELECT sum(idx_scan) FILTER (WHERE indexrelname = ''keys_pkey'') AS keys_pkey, sum(idx_scan) FILTER (WHERE indexrelname IN (''keys_client_id_key'', ''keys_legacy_client_id_idx'')) AS client_id_idx, sum(idx_scan) FILTER (WHERE indexrelname = ''tenants_pkey'') AS tenants_pkey FROM pg_stat_user_indexes WHERE schemaname = ''apikeys'''
SELECT pg_stat_force_next_flush();
:probes \gset p0_
SELECT seq_scan AS seq0 FROM pg_stat_user_tables WHERE relid = 'apikeys.keys'::regclass \gset
SELECT code FROM apikeys.verify(:'good_key');
SELECT code FROM apikeys.verify(:'paused_key');
SELECT code FROM apikeys.verify(:'good_key');
SELECT code FROM apikeys.verify('ak_malformed');
SELECT code FROM apikeys.verify(NULL);
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
:probes \gset p1_
SELECT :p1_keys_pkey - :p0_keys_pkey AS keys_pkey, :p1_client_id_idx - :p0_client_id_idx AS client_id_idx,
       :p1_tenants_pkey - :p0_tenants_pkey AS tenants_pkey;
SELECT seq_scan - :seq0 AS seq_scans FROM pg_stat_user_tables WHERE relid = 'apikeys.keys'::regclass;
-- An unknown key: the primary key, then the client id index (which finds keys made by 1.0).
SELECT code FROM apikeys.verify((apikeys._generate_key('ak')).key);
-- (the next block's change of a tenant, made here so that its own probes are not counted there)
UPDATE apikeys.tenants SET max_key_sets = max_key_sets WHERE tenant_id = 'off';
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
:probes \gset p2_
SELECT :p2_keys_pkey - :p1_keys_pkey AS keys_pkey, :p2_client_id_idx - :p1_client_id_idx AS client_id_idx;
-- Any change of the tenants (of another tenant, above) starts a new cache: the next
-- verify reads the switch again, once.
SELECT code FROM apikeys.verify(:'good_key');
SELECT code FROM apikeys.verify(:'good_key');
SELECT pg_stat_force_next_flush();
SELECT pg_stat_clear_snapshot();
:probes \gset p3_
SELECT :p3_keys_pkey - :p2_keys_pkey AS keys_pkey, :p3_client_id_idx - :p2_client_id_idx AS client_id_idx,
       :p3_tenants_pkey - :p2_tenants_pkey AS tenants_pkey;
-- A key's id is the one its client id determines.
SELECT key_id = apikeys._key_id_of(client_id) AS derived, count(*) FROM apikeys.keys GROUP BY 1;

-- Works in a READ ONLY transaction (and so on a hot standby: see test/t).
BEGIN READ ONLY;
SELECT code FROM apikeys.verify(:'good_key');
SELECT code FROM apikeys.verify(:'gone_key');
COMMIT;

-- Many keys in one query, as a batch job would do.
SELECT code, count(*) FROM (VALUES (:'good_key'), (:'paused_key'), (:'gone_key'), ('x'), (NULL)) v(k),
  LATERAL apikeys.verify(v.k) GROUP BY code ORDER BY code;

-- A pepper switches new keys to HMAC-SHA-256; old SHA-256 keys keep verifying.
SET apikeys.pepper = 'pepper-for-tests';
SELECT key_id, key FROM apikeys.create_key('acme', 'peppered') \gset pep_
SELECT hash_scheme FROM apikeys.keys WHERE key_id = :pep_key_id;
SELECT code FROM apikeys.verify(:'pep_key');
SELECT code FROM apikeys.verify(:'good_key');
SET apikeys.pepper = 'another-pepper';
SELECT code FROM apikeys.verify(:'pep_key');
RESET apikeys.pepper;
SELECT code FROM apikeys.verify(:'pep_key');
SET apikeys.pepper = 'pepper-for-tests';
SELECT code FROM apikeys.verify(:'pep_key');
RESET apikeys.pepper;
-- The pepper is superuser-only, shown to no one, and never stored in a catalog that every
-- role reads (pg_db_role_setting, a function's SET clause).
SET ROLE apikeys_app;
SELECT err($$SET apikeys.pepper = 'x'$$);
-- (Its SQLSTATE only: the message's wording changed in PostgreSQL 16.)
SELECT split_part(err($$SHOW apikeys.pepper$$), ':', 1) AS show_pepper;
RESET ROLE;
SET apikeys.pepper = 'pepper-for-tests';
SHOW apikeys.pepper;
SELECT current_setting('apikeys.pepper') AS setting, count(*) AS in_pg_settings
  FROM pg_settings WHERE name = 'apikeys.pepper' AND setting LIKE '%pepper-for%';
RESET apikeys.pepper;
SELECT err($$ALTER DATABASE postgres SET apikeys.pepper = 'stored'$$);
SELECT err($$ALTER ROLE apikeys_app SET apikeys.pepper = 'stored'$$);
SELECT err($$CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql SET apikeys.pepper = 'stored' AS 'SELECT 1'$$);
SELECT count(*) AS stored_anywhere FROM pg_db_role_setting WHERE array_to_string(setconfig, ',') LIKE '%pepper%';

-- A backend keeps the settings rows of many tenants and key sets: once it has read a tenant's
-- and a set's row, verify of their keys is one index probe (of apikeys.keys), beyond 512
-- tenants and sets too (the caches grow instead of starting over when half full).
SELECT count(*) AS tenants FROM (SELECT (apikeys.create_tenant('many-' || g)).tenant_id FROM generate_series(1, 600) g) s;
CREATE TEMP TABLE many_keys AS
SELECT g, (SELECT c.key FROM apikeys.create_key('many-' || g, 'k',
          key_set_id => apikeys.create_key_set('many-' || g, 's', '{reports:read}')) c) AS key
  FROM generate_series(1, 600) g;
BEGIN;
SELECT count(*) FILTER (WHERE (apikeys.verify(key)).valid) AS valid_first_pass FROM many_keys;
SELECT sum(idx_scan) AS before FROM pg_stat_xact_user_tables
 WHERE relid IN ('apikeys.tenants'::regclass, 'apikeys.key_sets'::regclass) \gset
SELECT count(*) FILTER (WHERE (apikeys.verify(key)).valid) AS valid_second_pass FROM many_keys;
SELECT sum(idx_scan) - :before AS settings_probes_second_pass FROM pg_stat_xact_user_tables
 WHERE relid IN ('apikeys.tenants'::regclass, 'apikeys.key_sets'::regclass);
COMMIT;
