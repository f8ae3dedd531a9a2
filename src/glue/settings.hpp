// The settings verify reads for every valid key: its tenant's (the switch, the allowlist,
// the rate limits) and its key set's (allowlist, rate limit), from per-backend caches that
// every committed change of the tables empties (relcache.hpp's rule).
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// An allowlist: null networks for none.
struct AllowList {
  const core::Network *networks = nullptr;
  int n = 0;
  bool set() const { return networks != nullptr; }
};

// A rate limit: at most limit answers per window_us microseconds; limit 0 for none.
struct RateLimit {
  int32 limit = 0;
  int64 window_us = 0;
};

struct TenantSettings {
  bool found = false;
  bool enabled = false;
  AllowList allowed_ips;
  RateLimit rate;      // all the tenant's keys together
  RateLimit key_rate;  // each key that has none of its own and whose set has none
};

struct KeySetSettings {
  bool found = false;
  AllowList allowed_ips;
  RateLimit rate;
};

// The tenant's settings as last committed (in parallel mode, or on a 1.0 schema without the
// invalidation trigger, as the statement's snapshot sees them). Valid until the next call.
const TenantSettings &tenant_settings(text *tenant_id);
const KeySetSettings &key_set_settings(int64 key_set_id);

// A cidr[] Datum as an allow list (palloc'd in the current context; NULL and '{}' are none).
AllowList allow_list_of(Datum cidrs, bool isnull);
// An inet or cidr Datum as a network.
core::Network network_of(Datum inet);
// A rate limit from (limit, window) Datums (0 for none).
RateLimit rate_limit_of(Datum limit, bool limit_null, Datum window, bool window_null);

}  // namespace apikeys::glue
