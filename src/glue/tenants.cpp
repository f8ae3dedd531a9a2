// The tenant switch cache: tenant id -> enabled, open addressing with linear probing, for ids
// of up to 58 bytes (longer ones are always read from the table). An entry is valid while its
// slot generation is the cache's: a new generation starts when apikeys.tenants is
// invalidated (relcache.hpp) and when the cache is half full.
#include "tenants.hpp"

#include "relcache.hpp"
#include "tables.hpp"

extern "C" {
#include "common/hashfn.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
}

namespace {

namespace relcache = apikeys::glue::relcache;

using apikeys::glue::tables::tenants;

struct TenantSlot {
  uint32 generation;
  bool enabled;
  uint8 len;
  char id[58];
};
constexpr uint32 kTenantSlots = 1024;  // 64 kB per backend, at most 512 tenants at a time
TenantSlot *slots = nullptr;
uint32 slot_generation = 1;
uint32 live = 0;                // entries of the current slot generation
uint64 built_for = ~uint64{0};  // the table generation the entries were read under

void new_slot_generation() {
  live = 0;
  if (++slot_generation == 0) {  // after 2^32 generations: old slots could look current
    if (slots != nullptr) memset(slots, 0, sizeof(TenantSlot) * kTenantSlots);
    slot_generation = 1;
  }
}

// The tenant's enabled column from the table (false if there is no such tenant).
bool read_enabled(text *tenant_id, Snapshot snapshot) {
  bool enabled = false;
  relcache::probe_unique(tenants.relid, tenants.pkey, F_TEXTEQ, PointerGetDatum(tenant_id), snapshot,
                         [&](TupleTableSlot *slot) {
                           bool isnull;
                           Datum d = slot_getattr(slot, tenants.att[apikeys::glue::tables::kTenantEnabled], &isnull);
                           enabled = !isnull && DatumGetBool(d);
                         });
  return enabled;
}

}  // namespace

namespace apikeys::glue {

bool tenant_enabled(text *tenant_id) {
  relcache::accept_invalidations();
  relcache::resolve(&tenants);
  if (!tenants.invalidates) return read_enabled(tenant_id, relcache::statement_snapshot());
  if (!relcache::cacheable()) return read_enabled(tenant_id, relcache::fresh_snapshot());
  std::string_view id(VARDATA_ANY(tenant_id), VARSIZE_ANY_EXHDR(tenant_id));
  if (id.size() > sizeof TenantSlot::id) return read_enabled(tenant_id, relcache::fresh_snapshot());
  if (slots == nullptr)
    slots = static_cast<TenantSlot *>(MemoryContextAllocZero(TopMemoryContext, sizeof(TenantSlot) * kTenantSlots));
  if (built_for != tenants.generation) {
    new_slot_generation();
    built_for = tenants.generation;
  }
  uint32 home = hash_bytes(reinterpret_cast<const unsigned char *>(id.data()), static_cast<int>(id.size()));
  auto find = [&]() -> TenantSlot * {  // the tenant's slot, or the free one where it goes
    for (uint32 i = 0;; i++) {
      TenantSlot *slot = &slots[(home + i) % kTenantSlots];
      if (slot->generation != slot_generation ||
          (slot->len == id.size() && memcmp(slot->id, id.data(), id.size()) == 0))
        return slot;
    }
  };
  TenantSlot *slot = find();
  if (slot->generation == slot_generation) return slot->enabled;
  // Any change committed before the invalidations accepted so far (here or by the probe's
  // locks) is visible to the latest snapshot; a later one bumps the table's generation.
  bool enabled = read_enabled(tenant_id, relcache::fresh_snapshot());
  if (built_for != tenants.generation) return enabled;  // invalidated while reading: keep nothing
  if (live >= kTenantSlots / 2) new_slot_generation();
  slot = find();
  slot->generation = slot_generation;
  slot->enabled = enabled;
  slot->len = static_cast<uint8>(id.size());
  memcpy(slot->id, id.data(), id.size());
  live++;
  return enabled;
}

}  // namespace apikeys::glue
