// Counts for the limit checks: run after the parent row is locked, under the latest snapshot
// (every committed row), so two racing transactions can never both pass a limit; correct
// under REPEATABLE READ and SERIALIZABLE too. Each is one index scan; which rows count is the
// core's rule (core::counts_in_set, core::is_live).
#include "limits.hpp"

#include "tables.hpp"
#include "writes.hpp"

extern "C" {
#include "access/xact.h"
#include "utils/fmgroids.h"
#include "utils/timestamp.h"
}

namespace core = apikeys::core;
using namespace apikeys::glue::tables;

namespace {

// The key's state from a keys row in a slot.
core::KeyState state_in(TupleTableSlot *slot) {
  bool n_status, n_expires;
  Datum status = slot_getattr(slot, keys.att[kStatus], &n_status);
  Datum expires = slot_getattr(slot, keys.att[kExpiresAt], &n_expires);
  core::KeyState s;
  s.status = n_status ? core::KeyStatus::Inactive : core::parse_key_status(apikeys::glue::text_view(status));
  s.has_expiry = !n_expires;
  s.expires_at = n_expires ? 0 : DatumGetTimestampTz(expires);
  return s;
}

}  // namespace

namespace apikeys::glue {

int64 count_key_sets(Datum tenant_id) {
  relcache::resolve(&key_sets);
  RegProcedure eq[1] = {F_TEXTEQ};
  return count_latest(key_sets.relid, key_sets.index[kKeySetsTenantIndex], 1, eq, &tenant_id,
                      [](TupleTableSlot *) { return true; });
}

int64 count_active_keys(int64 key_set_id) {
  relcache::resolve(&keys);
  RegProcedure eq[1] = {F_INT8EQ};
  Datum value = Int64GetDatum(key_set_id);
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  return count_latest(keys.relid, keys.index[kKeysKeySetIndex], 1, eq, &value,
                      [&](TupleTableSlot *slot) { return core::counts_in_set(state_in(slot), now); });
}

int64 count_live_keys(Datum tenant_id, Datum owner) {
  relcache::resolve(&keys);
  RegProcedure eq[2] = {F_TEXTEQ, F_TEXTEQ};
  Datum values[2] = {tenant_id, owner};
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  return count_latest(keys.relid, keys.index[kKeysTenantOwnerIndex], 2, eq, values,
                      [&](TupleTableSlot *slot) { return core::is_live(state_in(slot), now); });
}

}  // namespace apikeys::glue

APIKEYS_FUNCTION(apikeys_count_key_sets) { PG_RETURN_INT64(apikeys::glue::count_key_sets(PG_GETARG_DATUM(0))); }

APIKEYS_FUNCTION(apikeys_count_active_keys) { PG_RETURN_INT64(apikeys::glue::count_active_keys(PG_GETARG_INT64(0))); }

APIKEYS_FUNCTION(apikeys_count_live_keys) {
  PG_RETURN_INT64(apikeys::glue::count_live_keys(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)));
}
