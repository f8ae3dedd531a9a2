-- The guarded phase of make bench: the odd tenants get members (every owner of their keys, a
-- developer with API access; an admin each) and allowlists (the tenant's, their key sets',
-- and on keys i % 10 = 1 the key's own); in the even tenants, keys i % 10 in (6, 8) get a
-- rate limit that is never reached; the other keys stay as they were.
\set ON_ERROR_STOP on
ALTER TABLE apikeys.members DISABLE TRIGGER USER;  -- bulk load: no key of theirs changes
INSERT INTO apikeys.members (tenant_id, user_id, role, api_access)
SELECT 'tenant-' || (u % 100), 'user-' || u, CASE WHEN u < 100 THEN 'admin' ELSE 'developer' END, true
  FROM generate_series(0, 99999) u WHERE u % 2 = 1;
ALTER TABLE apikeys.members ENABLE TRIGGER USER;
UPDATE apikeys.tenants SET allowed_ips = '{192.0.2.0/24, 198.51.100.0/24, 2001:db8::/32, 10.0.0.0/8}'
 WHERE substr(tenant_id, 8)::int % 2 = 1;
UPDATE apikeys.key_sets SET allowed_ips = '{172.16.0.0/12, 10.0.0.0/16}'
 WHERE substr(tenant_id, 8)::int % 2 = 1;
ALTER TABLE apikeys.keys DISABLE TRIGGER USER;  -- within the sets' lists, as the trigger would check
UPDATE apikeys.keys k SET allowed_ips = '{10.0.1.0/24}'
  FROM bench.plain p WHERE p.i % 10 = 1 AND k.key_id = apikeys._key_id_of(left(p.key, 19));
UPDATE apikeys.keys k SET rate_limit = 1000000000, rate_window = '1 second'
  FROM bench.plain p WHERE p.i % 10 IN (6, 8) AND k.key_id = apikeys._key_id_of(left(p.key, 19));
ALTER TABLE apikeys.keys ENABLE TRIGGER USER;
VACUUM ANALYZE apikeys.keys;
VACUUM ANALYZE apikeys.members;
-- Every pick of both scripts answers VALID.
SELECT count(*) FILTER (WHERE (apikeys.verify(p.key, NULL, '10.0.1.7')).code = 'VALID') = count(*) AS guarded_valid,
       count(*) FILTER (WHERE (apikeys.verify(p.key, NULL, '10.0.2.7')).code = 'FORBIDDEN'
                          OR p.i % 10 <> 1) = count(*) AS own_lists_apply
  FROM bench.plain p WHERE p.i % 10 IN (1, 3, 7, 9) AND p.i <= 20000;
SELECT count(*) FILTER (WHERE (apikeys.verify(p.key)).code = 'VALID') = count(*) AS even_valid
  FROM bench.plain p WHERE p.i % 10 IN (2, 4, 6, 8) AND p.i <= 20000;
SELECT count(*) = count(k.rate_limit) AS limited_have_limits
  FROM bench.plain p JOIN apikeys.keys k ON k.key_id = apikeys._key_id_of(left(p.key, 19))
 WHERE p.i % 10 IN (6, 8) AND p.i <= 20000;
