// Tenant members and what they may do: the rights of apikeys.members enforced for the roles
// with apikeys.enforce_members = on, in every management function and every plain write
// (the triggers call enforce()).
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// What a change needs.
enum class Right {
  CreateTenant,    // nobody who enforces members
  TenantSettings,  // admin
  Members,         // admin
  KeySets,         // admin with API access
  CreateKey,       // the owner with API access; a platform key: admin with API access
  EditKey,         // likewise (edit, roll, activate, deactivate, delete)
  RevokeKey,       // admin, or the owner
  ReadTenant,      // any member
  Job,             // nobody who enforces members (purge, reminders across tenants)
};

// Raises 42501 unless the actor may make a change needing right to tenant_id (owner: the
// key's owner for the key rights, else null). Does nothing for a role without
// apikeys.enforce_members, and for the extension's own nested writes (internal_write).
// verb names the change in the message ("create keys", "revoke keys", ...).
void enforce(Datum tenant_id, Right right, Datum owner, bool owner_null, const char *verb);

// The extension's own writes made on behalf of a change already allowed (a set's permissions
// passed to its keys, a member's switch passed to the keys, a removed member's keys revoked):
// enforce() lets them through. Nested; reset when the (sub)transaction that began them ends
// in an error.
void internal_write_begin();
void internal_write_end();

// A member's API access as last committed: true if the user is a member without it (the
// user's keys answer OWNER_DISABLED); false for a member with access and for a non-member.
bool owner_disabled(Datum tenant_id, Datum user_id);

// From _PG_init: defines apikeys.enforce_members, registers the flag's callbacks.
void members_init();

}  // namespace apikeys::glue
