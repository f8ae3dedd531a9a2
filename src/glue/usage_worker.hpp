// The usage writer: the background worker that moves shared memory's counts into
// apikeys.usage, advances keys.last_used_at and writes the rate_limited events.
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// From _PG_init: registers the worker while the library is preloaded.
void usage_worker_init();

}  // namespace apikeys::glue
