// The tenant and key set settings verify reads, cached per backend (row_cache.hpp) and read
// as last committed (relcache.hpp's rule).
#include "settings.hpp"

#include "relcache.hpp"
#include "row_cache.hpp"
#include "tables.hpp"

#include <sys/socket.h>

extern "C" {
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/inet.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}

namespace relcache = apikeys::glue::relcache;
using namespace apikeys::glue::tables;
using apikeys::glue::AllowList;
using apikeys::glue::KeySetSettings;
using apikeys::glue::RateLimit;
using apikeys::glue::TenantSettings;

namespace {

apikeys::glue::RowCache tenant_cache(&tenants, 1024);
apikeys::glue::RowCache key_set_cache(&key_sets, 1024);

// A column that an older schema may lack reads as NULL.
Datum column(TupleTableSlot *slot, const relcache::Table &t, int c, bool *isnull) {
  if (t.att[c] == InvalidAttrNumber) {
    *isnull = true;
    return (Datum)0;
  }
  return slot_getattr(slot, t.att[c], isnull);
}

// Reads one row's settings with snapshot into out (allocated in cxt).
void read_tenant(text *tenant_id, Snapshot snapshot, MemoryContext cxt, TenantSettings *out) {
  *out = TenantSettings{};
  relcache::probe_unique(tenants.relid, tenants.pkey, F_TEXTEQ, PointerGetDatum(tenant_id), snapshot,
                         [&](TupleTableSlot *slot) {
                           MemoryContext old = MemoryContextSwitchTo(cxt);
                           bool n, n2;
                           out->found = true;
                           Datum enabled = column(slot, tenants, kTenantEnabled, &n);
                           out->enabled = !n && DatumGetBool(enabled);
                           Datum ips = column(slot, tenants, kTenantAllowedIps, &n);
                           out->allowed_ips = apikeys::glue::allow_list_of(ips, n);
                           Datum limit = column(slot, tenants, kTenantRateLimit, &n);
                           Datum window = column(slot, tenants, kTenantRateWindow, &n2);
                           out->rate = apikeys::glue::rate_limit_of(limit, n, window, n2);
                           limit = column(slot, tenants, kTenantKeyRateLimit, &n);
                           window = column(slot, tenants, kTenantKeyRateWindow, &n2);
                           out->key_rate = apikeys::glue::rate_limit_of(limit, n, window, n2);
                           MemoryContextSwitchTo(old);
                         });
}

void read_key_set(int64 key_set_id, Snapshot snapshot, MemoryContext cxt, KeySetSettings *out) {
  *out = KeySetSettings{};
  relcache::probe_unique(key_sets.relid, key_sets.pkey, F_INT8EQ, Int64GetDatum(key_set_id), snapshot,
                         [&](TupleTableSlot *slot) {
                           MemoryContext old = MemoryContextSwitchTo(cxt);
                           bool n, n2;
                           out->found = true;
                           Datum ips = column(slot, key_sets, kSetAllowedIps, &n);
                           out->allowed_ips = apikeys::glue::allow_list_of(ips, n);
                           Datum limit = column(slot, key_sets, kSetRateLimit, &n);
                           Datum window = column(slot, key_sets, kSetRateWindow, &n2);
                           out->rate = apikeys::glue::rate_limit_of(limit, n, window, n2);
                           MemoryContextSwitchTo(old);
                         });
}

// The settings of a row: from the cache, or read and (when allowed) cached. Read must fill a
// Value allocated in the given context.
template <typename Value, typename Read>
const Value &settings(relcache::Table *t, apikeys::glue::RowCache *cache, std::string_view key, Read &&read) {
  static Value uncached;  // valid until the next call
  static MemoryContext scratch = nullptr;
  relcache::accept_invalidations();
  relcache::resolve(t);
  if (!t->invalidates || !relcache::cacheable()) {
    // A 1.0 schema (no trigger keeps a cache right), or parallel mode: read every time.
    if (scratch == nullptr) scratch = AllocSetContextCreate(TopMemoryContext, "apikeys settings", ALLOCSET_SMALL_SIZES);
    MemoryContextReset(scratch);
    read(t->invalidates ? relcache::fresh_snapshot() : relcache::statement_snapshot(), scratch, &uncached);
    return uncached;
  }
  cache->validate();
  if (void *hit = cache->get(key)) return *static_cast<Value *>(hit);
  // Any change committed before the invalidations accepted so far (here or by the probe's
  // locks) is visible to the latest snapshot; a later one bumps the table's generation, and
  // put() then keeps nothing.
  auto *value = static_cast<Value *>(MemoryContextAllocZero(cache->memory(), sizeof(Value)));
  read(relcache::fresh_snapshot(), cache->memory(), value);
  cache->put(key, value);
  return *value;
}

}  // namespace

namespace apikeys::glue {

AllowList allow_list_of(Datum cidrs, bool isnull) {
  AllowList list;
  if (isnull) return list;
  ArrayType *arr = DatumGetArrayTypeP(cidrs);
  Datum *elems;
  bool *nulls;
  int n;
  deconstruct_array(arr, CIDROID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
  if (n == 0) return list;
  auto *nets = static_cast<core::Network *>(palloc0(sizeof(core::Network) * n));
  int k = 0;
  for (int i = 0; i < n; i++)
    if (!nulls[i]) nets[k++] = network_of(elems[i]);
  list.networks = nets;
  list.n = k;
  return list;
}

core::Network network_of(Datum d) {
  inet *ip = DatumGetInetPP(d);
  core::Network net;
  net.family = ip_family(ip) == PGSQL_AF_INET ? 4 : 6;
  net.bits = ip_bits(ip);
  memcpy(net.addr, ip_addr(ip), ip_addrsize(ip));
  return net;
}

RateLimit rate_limit_of(Datum limit, bool limit_null, Datum window, bool window_null) {
  RateLimit r;
  if (limit_null || window_null || DatumGetInt32(limit) <= 0) return r;
  Interval *w = DatumGetIntervalP(window);
  // Months count as 30 days, as interval comparison does.
  __int128 us = static_cast<__int128>(w->month) * DAYS_PER_MONTH * USECS_PER_DAY +
                static_cast<__int128>(w->day) * USECS_PER_DAY + w->time;
  if (us <= 0) return r;
  r.limit = DatumGetInt32(limit);
  r.window_us = us > PG_INT64_MAX ? PG_INT64_MAX : static_cast<int64>(us);
  return r;
}

const TenantSettings &tenant_settings(text *tenant_id) {
  std::string_view key(VARDATA_ANY(tenant_id), VARSIZE_ANY_EXHDR(tenant_id));
  return settings<TenantSettings>(
      &tenants, &tenant_cache, key,
      [&](Snapshot snap, MemoryContext cxt, TenantSettings *out) { read_tenant(tenant_id, snap, cxt, out); });
}

const KeySetSettings &key_set_settings(int64 key_set_id) {
  std::string_view key(reinterpret_cast<const char *>(&key_set_id), sizeof key_set_id);
  return settings<KeySetSettings>(
      &key_sets, &key_set_cache, key,
      [&](Snapshot snap, MemoryContext cxt, KeySetSettings *out) { read_key_set(key_set_id, snap, cxt, out); });
}

}  // namespace apikeys::glue
