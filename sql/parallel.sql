-- Every function that reads a backend cache (keys and tenants for verify, signing keys for
-- the tokens) in a parallel worker: forced (force_parallel_mode, debug_parallel_query since
-- PostgreSQL 16) and inside a real parallel plan. A worker may take no latest snapshot, so
-- the caches read with the statement's there; none may raise.
SELECT count(*) FROM apikeys.create_tenant('par');
SELECT key_id, client_id, key FROM apikeys.create_key('par', 'k', permissions => '{reports:read}') \gset
SELECT apikeys.issue_token(:'client_id', :'key') AS token \gset
SELECT count(*) FROM apikeys.create_tenant('paroff');
SELECT client_id AS off_client, key AS off_key FROM apikeys.create_key('paroff', 'k') \gset
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'paroff';

SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false) AS forced;
-- A new backend's caches are empty: the worker reads the tables itself.
\c
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false) AS forced;
SELECT code FROM apikeys.verify_token('a.b.c');
SELECT code FROM apikeys.verify_token(:'token');
SELECT code FROM apikeys.verify_token(:'token', check_revocation => true);
SELECT code FROM apikeys.verify_token('eyJhbGciOiJIUzI1NiJ9.e30.AAAA');
SELECT code, key_id = :key_id AS same FROM apikeys.verify(:'key');
SELECT code FROM apikeys.verify(:'key', '{reports:write}');
SELECT code FROM apikeys.verify(:'off_key');
SELECT code FROM apikeys.verify('ak_x');
SELECT length(apikeys.issue_token(:'client_id', :'key')) > 100 AS issued;
SELECT err(format('SELECT apikeys.issue_token(%L, %L)', :'off_client', :'off_key'));
-- The same once the leader's caches are filled.
SELECT code FROM apikeys.verify(:'key');
SELECT code FROM apikeys.verify_token(:'token');
-- A change committed by another session is seen by the next worker.
UPDATE apikeys.tenants SET enabled = false WHERE tenant_id = 'par';
SELECT code FROM apikeys.verify(:'key');
SELECT code FROM apikeys.verify_token(:'token', check_revocation => true);
UPDATE apikeys.tenants SET enabled = true WHERE tenant_id = 'par';
SELECT code FROM apikeys.verify(:'key');
-- The RLS helpers are parallel restricted: the leader answers them.
BEGIN;
SELECT code FROM apikeys.authenticate(:'key');
SELECT apikeys.current_tenant(), apikeys.has_permission('reports:read'), apikeys.current_key_id() = :key_id AS same;
COMMIT;
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'off', false) AS forced;

-- A real parallel plan: verify and verify_token in the workers of a parallel scan.
CREATE TABLE par_calls AS
  SELECT i, CASE i % 3 WHEN 0 THEN :'key' WHEN 1 THEN :'off_key' ELSE 'ak_bad' END AS k,
         CASE WHEN i % 2 = 0 THEN :'token' ELSE 'x.y.z' END AS t
  FROM generate_series(1, 30000) i;
ANALYZE par_calls;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT (apikeys.verify(k)).code, count(*) FROM par_calls GROUP BY 1;
SELECT (apikeys.verify(k)).code, count(*) FROM par_calls GROUP BY 1 ORDER BY 1;
SELECT (apikeys.verify_token(t)).code, count(*) FROM par_calls GROUP BY 1 ORDER BY 1;
SELECT (apikeys.verify_token(t, true)).code, count(*) FROM par_calls GROUP BY 1 ORDER BY 1;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
DROP TABLE par_calls;
