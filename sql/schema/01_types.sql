-- apikeys: API key management in plain SQL.
--
-- This directory is the current schema, in the order CREATE EXTENSION runs it: the Makefile
-- concatenates sql/schema/*.sql into the install script of the current version. Files
-- 01-19 hold what the data needs (types, the C functions column defaults call, tables); an
-- update script changes those by hand (sql/upgrade/). Files 20 and up hold behaviour
-- (functions, triggers, comments, privileges): an update script runs them again, with
-- CREATE OR REPLACE, so each is written once.
--
-- Rules of every file: every name outside pg_catalog is schema-qualified, operators too;
-- SECURITY DEFINER only with SET search_path = pg_catalog, pg_temp; nothing is granted to
-- PUBLIC; every object has a COMMENT. Names: private objects start with "_"; a trigger is
-- <table>_<before|after>_<purpose> and runs apikeys._<table>_<purpose>() (triggers of one
-- timing fire in name order).

COMMENT ON SCHEMA apikeys IS 'API key management: tenants, key sets, keys (hashed), verification, the RLS binding, access tokens and the audit log.';

------------------------------------------------------------------------------------------
-- Types, and the C functions that column defaults call
------------------------------------------------------------------------------------------

CREATE TYPE apikeys.verification AS (
  valid boolean,
  code text,
  key_id bigint,
  tenant_id text,
  owner text,
  key_set_id bigint,
  permissions text[],
  expires_at timestamptz
);
COMMENT ON TYPE apikeys.verification IS 'The answer of verify, authenticate and the token functions: valid, the code (VALID, MALFORMED, NOT_FOUND, REVOKED, INACTIVE, EXPIRED, TENANT_DISABLED, OWNER_DISABLED, FORBIDDEN, INSUFFICIENT_PERMISSIONS, RATE_LIMITED; for tokens also INVALID_SIGNATURE, UNKNOWN_KEY, WRONG_ISSUER, NOT_YET_VALID), and the key''s details, which only a VALID answer carries.';

CREATE FUNCTION apikeys._random_id() RETURNS bigint
  AS 'MODULE_PATHNAME', 'apikeys_random_id' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION apikeys._random_id() IS 'A random positive 63-bit id from the CSPRNG (no sequence: ids never collide across regions). Default of key_sets.key_set_id and events.event_id.';

CREATE FUNCTION apikeys._actor() RETURNS text
  AS 'MODULE_PATHNAME', 'apikeys_actor' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION apikeys._actor() IS 'The actor of the current transaction: the setting apikeys.actor when set and not empty, else the session user. Default of the created_by, updated_by and actor columns; a role that inserts rows with plain SQL needs EXECUTE on it.';
