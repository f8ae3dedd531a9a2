// Keys: generation of new keys and secrets, their ids, and the server-side pepper.
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// The server-side pepper (apikeys.pepper), or "" when none is configured.
const char *pepper();

// From _PG_init: defines apikeys.pepper.
void keys_init();

}  // namespace apikeys::glue
