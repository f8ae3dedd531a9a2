-- apikeys 1.1 -> 1.2, after the behaviour files.

-- Every role that could call a function whose arguments changed can call its new version.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT n.oid::pg_catalog.regprocedure AS new_fn, pg_catalog.pg_get_userbyid(a.grantee) AS grantee, a.is_grantable
      FROM pg_catalog.pg_proc o, pg_catalog.aclexplode(o.proacl) a, pg_catalog.pg_proc n
     WHERE o.pronamespace OPERATOR(pg_catalog.=) 'apikeys'::pg_catalog.regnamespace
       AND o.proname OPERATOR(pg_catalog.~~) '\_old\_%'
       AND n.pronamespace OPERATOR(pg_catalog.=) o.pronamespace
       AND n.proname OPERATOR(pg_catalog.=) pg_catalog.substr(o.proname::text, 6)
       AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
       AND a.grantee OPERATOR(pg_catalog.<>) o.proowner AND a.grantee OPERATOR(pg_catalog.<>) 0
  LOOP
    EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %I%s', r.new_fn, r.grantee,
                              CASE WHEN r.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
  END LOOP;
END $$;
DROP FUNCTION apikeys._old_verify(text, text[]);
DROP FUNCTION apikeys._old_authenticate(text, text[]);
DROP FUNCTION apikeys._old_issue_token(text, text, interval);
DROP FUNCTION apikeys._old_verify_token(text, boolean);
DROP FUNCTION apikeys._old_authenticate_token(text);
DROP FUNCTION apikeys._old_create_tenant(text, boolean, integer, integer, integer, interval, interval, interval,
  text, interval);
DROP FUNCTION apikeys._old_create_key_set(text, text, text[], text, text);
DROP FUNCTION apikeys._old_update_key_set(bigint, text, text[], text);
DROP FUNCTION apikeys._old_create_key(text, text, text, text[], interval, bigint, text);
DROP FUNCTION apikeys._old_update_key(bigint, text, text[], text);

-- The keys table was rewritten: fresh statistics for the planner.
ANALYZE apikeys.keys;

-- Roles granted in 1.1's terms (README's app and admin blocks) get what 1.2 adds for them:
-- a role that could authenticate is an application role, one that could create keys an
-- administrator.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT DISTINCT a.grantee::pg_catalog.regrole AS grantee
      FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
     WHERE p.oid OPERATOR(pg_catalog.=) 'apikeys.authenticate(text, text[], inet)'::pg_catalog.regprocedure
       AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE' AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
       AND a.grantee OPERATOR(pg_catalog.<>) 0
  LOOP
    PERFORM apikeys.grant_app(r.grantee);
  END LOOP;
  FOR r IN
    SELECT DISTINCT a.grantee::pg_catalog.regrole AS grantee
      FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
     WHERE p.oid OPERATOR(pg_catalog.=)
           'apikeys.create_key(text, text, text, text[], interval, bigint, text, cidr[], integer, interval)'::pg_catalog.regprocedure
       AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE' AND a.grantee OPERATOR(pg_catalog.<>) p.proowner
       AND a.grantee OPERATOR(pg_catalog.<>) 0
  LOOP
    PERFORM apikeys.grant_admin(r.grantee);
  END LOOP;
END $$;

-- Say what is missing without shared_preload_libraries.
SELECT apikeys._notice_if_not_preloaded();

-- The client ids of keys made by 1.0 (as sql/schema/92_legacy_keys_index.sql makes it).
CREATE INDEX keys_legacy_client_id_idx ON apikeys.keys (client_id)
  WHERE key_id OPERATOR(pg_catalog.<>) apikeys._key_id_of(client_id);
COMMENT ON INDEX apikeys.keys_legacy_client_id_idx IS 'The client ids of the keys made by 1.0 (a random key_id); empty in an installation that has none, so that verify''s probe for an unknown client id costs what the probe of a known one does.';
