-- The key pick plus the probe verify makes: apikeys.keys by its primary key, the id the
-- key's client id determines.
\set i 10 * random(0, :nkeys / 10 - 1) + random(1, 9)
SELECT p.key, k.key_id FROM bench.plain p JOIN apikeys.keys k ON k.key_id = apikeys._key_id_of(left(p.key, 19)) WHERE p.i = :i;
