// The management functions that hand out a plaintext key (create_key, roll_key), in C.
#pragma once

#include "boundary.hpp"

extern "C" {
// apikeys.create_key(tenant_id, name, owner, permissions, expires_in, key_set_id, description)
Datum apikeys_create_key(PG_FUNCTION_ARGS);
// apikeys.roll_key(key_id, grace)
Datum apikeys_roll_key(PG_FUNCTION_ARGS);
}
