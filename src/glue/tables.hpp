// The extension's tables that C code reads and writes, described once: their names, the
// columns C code uses (as an enum indexing relcache::Table::att) and their unique indexes.
#pragma once

#include "relcache.hpp"

namespace apikeys::glue::tables {

// apikeys.keys
enum KeyColumn {
  kKeyId,
  kClientId,
  kTenantId,
  kKeySetId,
  kOwner,
  kName,
  kDescription,
  kPermissions,
  kPermissionsInherited,
  kStatus,
  kExpiresAt,
  kCreatedAt,
  kCreatedBy,
  kUpdatedAt,
  kUpdatedBy,
  kRevokedAt,
  kRevokedBy,
  kRevokedReason,
  kLastUsedAt,
  kHint,
  kKeyHash,
  kHashScheme,
  kPreviousHash,
  kPreviousHashScheme,
  kPreviousExpiresAt,
  kOwnerDisabled,
  kAllowedIps,
  kRateLimit,
  kRateWindow,
};
extern relcache::Table keys;
// keys.index[]: the unique client id index, (tenant_id, owner), (key_set_id), and since 1.2
// the client ids of the keys made by 1.0 (whose key_id is random), InvalidOid before 1.2.
constexpr int kKeysClientIdIndex = 0;
constexpr int kKeysTenantOwnerIndex = 1;
constexpr int kKeysKeySetIndex = 2;
constexpr int kKeysLegacyClientIdIndex = 3;

// apikeys.tenants
enum TenantColumn {
  kTenantTenantId,
  kTenantEnabled,
  kTenantMaxKeySets,
  kTenantMaxActiveKeysPerSet,
  kTenantMaxKeysPerOwner,
  kTenantMaxExpiry,
  kTenantDefaultExpiry,
  kTenantKeyPrefix,
  kTenantAllowedIps,
  kTenantRateLimit,
  kTenantRateWindow,
  kTenantKeyRateLimit,
  kTenantKeyRateWindow,
};
extern relcache::Table tenants;

// apikeys.key_sets
enum KeySetColumn {
  kSetKeySetId,
  kSetTenantId,
  kSetName,
  kSetPermissions,
  kSetAllowedIps,
  kSetRateLimit,
  kSetRateWindow,
};
extern relcache::Table key_sets;
constexpr int kKeySetsTenantIndex = 0;  // key_sets.index[]: (tenant_id)

// apikeys.members
enum MemberColumn { kMemberTenantId, kMemberUserId, kMemberRole, kMemberApiAccess };
extern relcache::Table members;

// apikeys.events
enum EventColumn {
  kEventId,
  kEventAt,
  kEventTenantId,
  kEventKeyId,
  kEventKeySetId,
  kEventActor,
  kEventAction,
  kEventDetails
};
extern relcache::Table events;

// The attribute number of a column (0 when an older schema lacks an optional one).
inline AttrNumber att(const relcache::Table &t, int column) { return t.att[column]; }

// From _PG_init: makes the tables known to the relcache callback.
void tables_init();

}  // namespace apikeys::glue::tables
