// The counts behind the tenant limits, taken under the latest snapshot after the parent row
// is locked (so two racing transactions can never both pass a limit).
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// Key sets of a tenant.
int64 count_key_sets(Datum tenant_id);
// Active, unexpired keys of a key set.
int64 count_active_keys(int64 key_set_id);
// Live (not revoked, not expired) keys of an owner of a tenant.
int64 count_live_keys(Datum tenant_id, Datum owner);

}  // namespace apikeys::glue
