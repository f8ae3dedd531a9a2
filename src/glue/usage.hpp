// Usage metering and rate limits: what needs the library in shared_preload_libraries.
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// True if the library was loaded by shared_preload_libraries (shared memory is there).
bool usage_available();

// Validates a rate limit of a key, key set or tenant (what: "key", "key set", "tenant";
// name: the object's name): both or neither of limit and window, a positive limit, a
// positive window (22023); and a limit needs shared memory (55000 without the preload).
void check_rate_limit(const char *what, const char *name, Datum limit, bool limit_null, Datum window, bool window_null);

// From _PG_init.
void usage_init();

}  // namespace apikeys::glue
