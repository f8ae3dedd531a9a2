-- Loads keys :first..:last into apikeys.keys in one statement, and their plaintexts into
-- bench.plain. Key i: tenant-(i % 100); in set ((i / 100) % 5) of its tenant unless
-- i % 5 = 0 (then its own permissions); owner user-(i % 100000), none if i % 10 = 0;
-- revoked if i % 20 = 0; expires in a year if i % 3 = 0.
-- run.sh disables the keys table's user triggers (rules and events) around the bulk load,
-- which runs as one such statement per core: every row is built here exactly as the triggers
-- would accept it (the key id is the one its client id determines); foreign keys stay checked.
\set ON_ERROR_STOP on
WITH r AS MATERIALIZED (
  -- one call per row (a LATERAL call without an outer reference would be made only once)
  SELECT i, apikeys._generate_key('ak') AS k FROM generate_series(:first, :last) i
), g AS MATERIALIZED (
  SELECT i, (k).client_id, (k).key, (k).hint, (k).key_hash, (k).hash_scheme FROM r
), ins AS (
  INSERT INTO apikeys.keys (key_id, client_id, tenant_id, key_set_id, owner, name, permissions,
      permissions_inherited, status, revoked_at, revoked_by, expires_at, hint, key_hash, hash_scheme,
      created_by, updated_by)
  SELECT apikeys._key_id_of(g.client_id), g.client_id, 'tenant-' || (g.i % 100), s.key_set_id,
         CASE WHEN g.i % 10 <> 0 THEN 'user-' || (g.i % 100000) END,
         'bench key ' || g.i, coalesce(s.permissions, '{reports:read,docs:read}'), s.key_set_id IS NOT NULL,
         CASE WHEN g.i % 20 = 0 THEN 'revoked' ELSE 'active' END,
         CASE WHEN g.i % 20 = 0 THEN now() END, CASE WHEN g.i % 20 = 0 THEN 'bench' END,
         CASE WHEN g.i % 3 = 0 THEN now() + interval '365 days' END,
         g.hint, g.key_hash, g.hash_scheme, 'bench', 'bench'
  FROM g LEFT JOIN bench.sets s
    ON g.i % 5 <> 0 AND s.tenant_no = g.i % 100 AND s.set_no = (g.i / 100) % 5
)
INSERT INTO bench.plain (i, key) SELECT i, key FROM g;
