------------------------------------------------------------------------------------------
-- Events
-- (every table is dumped with its rows, pg_extension_config_dump: pg_dump and pg_restore
-- keep every key working)
------------------------------------------------------------------------------------------

-- Append-only: every row is also announced with NOTIFY apikeys_events.
CREATE TABLE apikeys.events (
  event_id bigint CONSTRAINT events_pkey PRIMARY KEY DEFAULT apikeys._random_id(),
  at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
  tenant_id text COLLATE "C",  -- NULL since 1.2: an event of the installation, not of a tenant
  key_id bigint,
  key_set_id bigint,
  actor text NOT NULL DEFAULT apikeys._actor(),
  action text NOT NULL,
  details jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_tenant_at_idx ON apikeys.events (tenant_id, at DESC);
CREATE INDEX events_key_idx ON apikeys.events (key_id, at DESC) WHERE key_id IS NOT NULL;
COMMENT ON TABLE apikeys.events IS 'The append-only audit log: one row per change (created, updated, activated, deactivated, revoked, rolled, deleted, purged, tenant_created, tenant_updated, key_set_created, key_set_updated, key_set_deleted, member_added, member_updated, member_removed, rate_limited, expiring; without a tenant: signing_key_added, signing_key_made_current, signing_key_retired, purge_run), also sent with NOTIFY apikeys_events. Only apikeys.purge() deletes rows, by the tenant''s event_retention; it never deletes the events without a tenant, its own purge_run records among them.';
COMMENT ON COLUMN apikeys.events.tenant_id IS 'The tenant the event belongs to; NULL for the events of the whole installation (signing keys, purge runs), which purge() keeps for ever.';
COMMENT ON COLUMN apikeys.events.actor IS 'Who made the change: apikeys.actor, or the session user.';
COMMENT ON COLUMN apikeys.events.details IS 'What changed (old and new values) or what was made; never a secret or a hash.';

SELECT pg_catalog.pg_extension_config_dump('apikeys.events', '');
