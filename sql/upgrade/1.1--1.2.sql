-- apikeys 1.1 -> 1.2, the part written by hand: what changes in the data (tables, types,
-- the functions column defaults call) and what goes away. The Makefile appends the
-- behaviour files of sql/schema (20-89, with CREATE OR REPLACE), then 1.1--1.2-after.sql.

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
