-- No table, view, event or function output holds a key's plaintext after create_key
-- (or roll_key) returned it; hashes are never shown in events.
SELECT * FROM apikeys.create_tenant('secretco', max_keys_per_owner => 10) \gset
SELECT apikeys.create_key_set('secretco', 'set', '{a,b}') AS s \gset
SELECT key_id, key FROM apikeys.create_key('secretco', 'one', owner => 'dave', key_set_id => :s) \gset
SELECT key AS rolled FROM apikeys.roll_key(:key_id) \gset
SELECT apikeys.update_key(:key_id, name => 'one-renamed');
SELECT apikeys.deactivate_key(:key_id);
SELECT apikeys.revoke_key(:key_id, 'done');
SELECT encode(key_hash, 'hex') AS hash_hex, encode(previous_hash, 'hex') AS prev_hex
  FROM apikeys.keys WHERE key_id = :key_id \gset

-- Every column of every table in the schema, as text, for the key, the secret part and the
-- rolled key (the secret is the key minus the client id and checksum).
CREATE TEMP TABLE needles AS
  SELECT * FROM (VALUES (:'key'), (substr(:'key', 20, 22)), (:'rolled'), (substr(:'rolled', 20, 22))) v(needle);
-- Control: the same scan finds the needles where they are.
CREATE TEMP TABLE control AS SELECT :'key' AS k, :'rolled' AS r;
SELECT count(*) AS control_hits FROM control t, needles n WHERE strpos(t::text, n.needle) > 0;
DO $$
DECLARE
  r record;
  hits bigint;
  total bigint := 0;
BEGIN
  FOR r IN SELECT c.oid::regclass AS rel FROM pg_class c
           WHERE c.relnamespace = 'apikeys'::regnamespace AND c.relkind IN ('r', 'v', 'm') LOOP
    EXECUTE format('SELECT count(*) FROM %s t, needles n WHERE strpos(t::text, n.needle) > 0', r.rel) INTO hits;
    total := total + hits;
    IF hits > 0 THEN RAISE NOTICE 'plaintext found in %', r.rel; END IF;
  END LOOP;
  RAISE NOTICE 'rows holding a plaintext key or secret: %', total;
END $$;
-- Events carry neither plaintext nor hashes.
SELECT count(*) AS events_with_secrets FROM apikeys.events e, needles n
  WHERE strpos(e::text, n.needle) > 0 OR strpos(e::text, :'hash_hex') > 0 OR strpos(e::text, :'prev_hex') > 0
     OR e.details::text ~ 'hash';
SELECT count(*) > 3 AS events_written FROM apikeys.events WHERE tenant_id = 'secretco';
-- search_keys shows the hint, never the key.
SELECT count(*) FROM apikeys.search_keys('secretco') s, needles n WHERE strpos(s::text, n.needle) > 0;
-- Verification answers never echo the key.
SELECT count(*) FROM apikeys.verify(:'rolled') v, needles n WHERE strpos(v::text, n.needle) > 0;
