-- apikeys 1.1 -> 1.2, the part written by hand: what changes in the data (tables, types,
-- the functions column defaults call) and what goes away. A line "-- include: FILE" is
-- replaced by that file of sql/schema (a table new in 1.2 is created by the same statements
-- as in a fresh install). The Makefile appends the behaviour files of sql/schema (20-89,
-- with CREATE OR REPLACE), then 1.1--1.2-after.sql.

-- Private names follow one rule (<table>_<before|after>_<purpose> runs
-- apikeys._<table>_<purpose>()): the old triggers and the functions only they ran go.
DROP TRIGGER tenants_check ON apikeys.tenants;
DROP TRIGGER tenants_event ON apikeys.tenants;
DROP TRIGGER tenants_changed ON apikeys.tenants;
DROP TRIGGER key_sets_before ON apikeys.key_sets;
DROP TRIGGER key_sets_after ON apikeys.key_sets;
DROP TRIGGER keys_before ON apikeys.keys;
DROP TRIGGER keys_id ON apikeys.keys;
DROP TRIGGER keys_after ON apikeys.keys;
DROP TRIGGER events_append_only ON apikeys.events;
DROP TRIGGER events_no_truncate ON apikeys.events;
DROP TRIGGER signing_keys_before ON apikeys.signing_keys;
DROP TRIGGER signing_keys_changed ON apikeys.signing_keys;
DROP FUNCTION apikeys._tenants_changed();
DROP FUNCTION apikeys._signing_keys_changed();
DROP FUNCTION apikeys._signing_keys_before();
DROP FUNCTION apikeys._key_sets_before();
DROP FUNCTION apikeys._key_sets_after();
DROP FUNCTION apikeys._keys_before();
DROP FUNCTION apikeys._keys_after();

-- One letter from the trigger function apikeys._keys_id(): renamed (its grants stay).
ALTER FUNCTION apikeys._key_id(text) RENAME TO _key_id_of;

-- Events: the payload names no person (ids as strings, no owner or actor), so the helpers
-- lose their owner argument; create_key and roll_key are C and need no _roll_key.
DROP FUNCTION apikeys._record_event(text, bigint, bigint, text, jsonb, text);
DROP FUNCTION apikeys._event_payload(apikeys.events, text);
DROP FUNCTION apikeys._roll_key(bigint, interval);
-- Events of the installation (signing keys, purge runs) have no tenant.
ALTER TABLE apikeys.events ALTER COLUMN tenant_id DROP NOT NULL;

-- Tenants and key sets: IP allowlists, rate limits, expiry reminders, usage retention.
ALTER TABLE apikeys.tenants
  ADD COLUMN allowed_ips cidr[],
  ADD COLUMN rate_limit integer,
  ADD COLUMN rate_window interval,
  ADD COLUMN key_rate_limit integer,
  ADD COLUMN key_rate_window interval,
  ADD COLUMN expiry_reminders interval[] NOT NULL DEFAULT '{7 days,1 day}',
  ADD COLUMN usage_retention interval NOT NULL DEFAULT '90 days';
ALTER TABLE apikeys.key_sets
  ADD COLUMN allowed_ips cidr[],
  ADD COLUMN rate_limit integer,
  ADD COLUMN rate_window interval;

-- Keys: rewritten with the columns in the order verify reads them, and the new ones
-- (owner_disabled, allowed_ips, rate_limit, rate_window). The old table keeps its rows until
-- they are copied; its privileges pass to the new one. This reads and writes the whole
-- table once (about as long as a VACUUM FULL of it), holding an exclusive lock on it.
DROP FUNCTION apikeys._require_key(bigint);  -- returns the old row type; remade below
ALTER TABLE apikeys.keys RENAME TO _keys_1_1;
ALTER TABLE apikeys._keys_1_1 RENAME CONSTRAINT keys_pkey TO _keys_1_1_pkey;
ALTER TABLE apikeys._keys_1_1 RENAME CONSTRAINT keys_client_id_key TO _keys_1_1_client_id_key;
ALTER TABLE apikeys._keys_1_1 RENAME CONSTRAINT keys_tenant_id_fkey TO _keys_1_1_tenant_id_fkey;
ALTER TABLE apikeys._keys_1_1 RENAME CONSTRAINT keys_key_set_id_tenant_id_fkey TO _keys_1_1_key_set_id_tenant_id_fkey;
ALTER INDEX apikeys.keys_tenant_idx RENAME TO _keys_1_1_tenant_idx;
ALTER INDEX apikeys.keys_key_set_idx RENAME TO _keys_1_1_key_set_idx;
-- include: 04_keys.sql
INSERT INTO apikeys.keys (key_id, owner_disabled, client_id, tenant_id, status, key_hash, hash_scheme, permissions,
    expires_at, key_set_id, owner, previous_hash, previous_hash_scheme, previous_expires_at, name, description,
    permissions_inherited, created_at, created_by, updated_at, updated_by, revoked_at, revoked_by, revoked_reason,
    last_used_at, hint)
  SELECT key_id, false, client_id, tenant_id, status, key_hash, hash_scheme, permissions,
    expires_at, key_set_id, owner, previous_hash, previous_hash_scheme, previous_expires_at, name, description,
    permissions_inherited, created_at, created_by, updated_at, updated_by, revoked_at, revoked_by, revoked_reason,
    last_used_at, hint
  FROM apikeys._keys_1_1;
DO $$
DECLARE
  r record;
BEGIN
  -- Table privileges, then column privileges (the admin role's SELECT of every column but
  -- the hashes), to the same roles.
  FOR r IN
    SELECT a.privilege_type, pg_catalog.pg_get_userbyid(a.grantee) AS grantee, a.is_grantable
      FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
     WHERE c.oid OPERATOR(pg_catalog.=) 'apikeys._keys_1_1'::pg_catalog.regclass
       AND a.grantee OPERATOR(pg_catalog.<>) c.relowner AND a.grantee OPERATOR(pg_catalog.<>) 0
  LOOP
    EXECUTE pg_catalog.format('GRANT %s ON apikeys.keys TO %I%s', r.privilege_type, r.grantee,
                              CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
  END LOOP;
  FOR r IN
    SELECT at.attname, a.privilege_type, pg_catalog.pg_get_userbyid(a.grantee) AS grantee, a.is_grantable
      FROM pg_catalog.pg_attribute at, pg_catalog.aclexplode(at.attacl) a
     WHERE at.attrelid OPERATOR(pg_catalog.=) 'apikeys._keys_1_1'::pg_catalog.regclass AND NOT at.attisdropped
       AND a.grantee OPERATOR(pg_catalog.<>) 0
  LOOP
    EXECUTE pg_catalog.format('GRANT %s (%I) ON apikeys.keys TO %I%s', r.privilege_type, r.attname, r.grantee,
                              CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
  END LOOP;
END $$;
ALTER EXTENSION apikeys DROP TABLE apikeys._keys_1_1;
DROP TABLE apikeys._keys_1_1;

-- include: 07_members.sql
-- include: 08_usage.sql
-- include: 10_reminders.sql

-- Signing secrets move to a table of their own that no SQL reads (09_signing_secrets.sql);
-- signing_keys keeps the public part. Dropping the column drops the constraint that named it.
-- include: 09_signing_secrets.sql
INSERT INTO apikeys.signing_secrets (kid, secret) SELECT kid, secret FROM apikeys.signing_keys;
ALTER TABLE apikeys.signing_keys DROP COLUMN secret;
ALTER TABLE apikeys.signing_keys ADD CONSTRAINT signing_keys_material CHECK (
    (alg OPERATOR(pg_catalog.=) 'HS256' AND public_key IS NULL)
    OR (alg OPERATOR(pg_catalog.=) 'EdDSA' AND pg_catalog.length(public_key) OPERATOR(pg_catalog.=) 32));
DROP FUNCTION apikeys._new_signing_key(text);

-- Functions whose arguments change (client_ip, allowlists, rate limits, settings): renamed
-- here so that the new ones are made beside them; 1.1--1.2-after.sql gives the new ones the
-- old ones' grants and drops the old ones. Calls by position and by name keep resolving.
ALTER FUNCTION apikeys.verify(text, text[]) RENAME TO _old_verify;
ALTER FUNCTION apikeys.authenticate(text, text[]) RENAME TO _old_authenticate;
ALTER FUNCTION apikeys.issue_token(text, text, interval) RENAME TO _old_issue_token;
ALTER FUNCTION apikeys.verify_token(text, boolean) RENAME TO _old_verify_token;
ALTER FUNCTION apikeys.authenticate_token(text) RENAME TO _old_authenticate_token;
ALTER FUNCTION apikeys.create_tenant(text, boolean, integer, integer, integer, interval, interval, interval, text,
  interval) RENAME TO _old_create_tenant;
ALTER FUNCTION apikeys.create_key_set(text, text, text[], text, text) RENAME TO _old_create_key_set;
ALTER FUNCTION apikeys.update_key_set(bigint, text, text[], text) RENAME TO _old_update_key_set;
ALTER FUNCTION apikeys.create_key(text, text, text, text[], interval, bigint, text) RENAME TO _old_create_key;
ALTER FUNCTION apikeys.update_key(bigint, text, text[], text) RENAME TO _old_update_key;
