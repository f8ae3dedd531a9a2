------------------------------------------------------------------------------------------
-- Tenant members (since 1.2)
-- (every table is dumped with its rows, pg_extension_config_dump: pg_dump and pg_restore
-- keep every key working)
------------------------------------------------------------------------------------------

-- Who may act for a tenant. Enforced for the roles with apikeys.enforce_members = on.
CREATE TABLE apikeys.members (
  tenant_id text COLLATE "C" NOT NULL
    CONSTRAINT members_tenant_id_fkey REFERENCES apikeys.tenants (tenant_id) ON DELETE CASCADE,
  user_id text NOT NULL,
  role text NOT NULL DEFAULT 'member' CONSTRAINT members_role_check CHECK (role OPERATOR(pg_catalog.=) ANY (ARRAY['admin', 'developer', 'member'])),
  api_access boolean NOT NULL,
  created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  created_by text NOT NULL DEFAULT apikeys._actor(),
  updated_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
  updated_by text NOT NULL DEFAULT apikeys._actor(),
  CONSTRAINT members_pkey PRIMARY KEY (tenant_id, user_id)
);
COMMENT ON TABLE apikeys.members IS 'The users of a tenant and what they may do with its keys: admin (tenant settings, members, key sets, platform keys, revoking any key), developer and member (their own keys, with API access). For the roles with apikeys.enforce_members = on, the actor (apikeys.actor) must be a member with the right each change needs.';
COMMENT ON COLUMN apikeys.members.user_id IS 'The application''s id for the user: what apikeys.actor says and keys.owner holds.';
COMMENT ON COLUMN apikeys.members.role IS 'admin, developer or member (the default).';
COMMENT ON COLUMN apikeys.members.api_access IS 'Whether the user may hold and manage keys. Switched off, the user''s keys answer OWNER_DISABLED until it is switched on again.';
SELECT pg_catalog.pg_extension_config_dump('apikeys.members', '');
