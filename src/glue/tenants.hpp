// The tenant switch as verify reads it: from a per-backend cache of apikeys.tenants that
// every committed change of the table invalidates (relcache.hpp's rule).
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// True if the tenant exists and is enabled, as last committed (in parallel mode, or on a
// 1.0 schema without the invalidation trigger, as the statement's snapshot sees it).
bool tenant_enabled(text *tenant_id);

}  // namespace apikeys::glue
