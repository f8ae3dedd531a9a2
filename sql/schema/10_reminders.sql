------------------------------------------------------------------------------------------
-- Expiry reminders sent (since 1.2)
-- (dumped with its rows, pg_extension_config_dump: a restored database does not remind twice)
------------------------------------------------------------------------------------------

-- One row per key and threshold that apikeys.send_expiry_reminders() has covered, for the
-- key's expiry at the time. Rolling a key or changing its expiry deletes its rows (the keys
-- trigger), which re-arms its reminders.
CREATE TABLE apikeys.reminders (
  key_id bigint NOT NULL CONSTRAINT reminders_key_id_fkey REFERENCES apikeys.keys (key_id) ON DELETE CASCADE,
  threshold interval NOT NULL,
  expires_at timestamptz NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  CONSTRAINT reminders_pkey PRIMARY KEY (key_id, threshold)
);
COMMENT ON TABLE apikeys.reminders IS 'The expiry reminders apikeys.send_expiry_reminders() has covered: one row per key and threshold (the primary key makes concurrent runs remind once). Rolling a key or changing its expiry re-arms it.';
COMMENT ON COLUMN apikeys.reminders.threshold IS 'One of the tenant''s expiry_reminders.';
COMMENT ON COLUMN apikeys.reminders.expires_at IS 'The key''s expiry when it was reminded.';
SELECT pg_catalog.pg_extension_config_dump('apikeys.reminders', '');
