------------------------------------------------------------------------------------------
-- The client ids of keys made by 1.0 (whose key_id is random, not the one the client id
-- determines): verify probes this index when the primary key holds no row for a client id,
-- so in an installation without such keys the probe of an unknown client id reads an empty
-- index. (After the functions, whose _key_id_of the predicate calls; the update to 1.2
-- creates it in 1.1--1.2-after.sql.)
------------------------------------------------------------------------------------------

CREATE INDEX keys_legacy_client_id_idx ON apikeys.keys (client_id)
  WHERE key_id OPERATOR(pg_catalog.<>) apikeys._key_id_of(client_id);
COMMENT ON INDEX apikeys.keys_legacy_client_id_idx IS 'The client ids of the keys made by 1.0 (a random key_id); empty in an installation that has none, so that verify''s probe for an unknown client id costs what the probe of a known one does.';
