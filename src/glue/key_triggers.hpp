// The triggers of apikeys.keys (keys_before_check, keys_after_apply), in C.
#pragma once

#include "boundary.hpp"

extern "C" {
// BEFORE INSERT OR UPDATE: validation, expiry policy, the columns a write may not change.
Datum apikeys_keys_check(PG_FUNCTION_ARGS);
// AFTER INSERT OR UPDATE OR DELETE: the disabled-tenant rule, the limits under locks on the
// parent rows (the key set, then the tenant), and the key events.
Datum apikeys_keys_apply(PG_FUNCTION_ARGS);
}
