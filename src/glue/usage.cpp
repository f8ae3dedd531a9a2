// Usage metering and rate limits in shared memory.
//
// One table of 128-byte slots, in two regions: keys (identified by database and key id) and
// tenants (by database and a 64-bit hash of the tenant id, for tenant-wide limits). Each
// region is cut into partitions with one LWLock each; verify takes its key's partition lock
// in shared mode only (so verifies never wait for each other), claims an empty slot with a
// compare-and-swap, counts with atomic adds and keeps a rate limit's whole state (GCRA's
// theoretical arrival time) in one 64-bit atomic. Only the worker takes a partition lock
// exclusively, to rebuild it without its idle slots. Slots are found by linear probing
// within their partition; a partition never holds tombstones (a rebuild re-inserts).
#include "usage.hpp"

#include "redaction.hpp"
#include "shared_memory.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "common/hashfn.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
}

namespace core = apikeys::core;
using apikeys::glue::kCountedCodes;
using apikeys::glue::RateLimit;

namespace {

// ---- settings -----------------------------------------------------------------------------

bool usage_tracking = true;
int flush_interval_s = 10;
int last_used_granularity = 600;
int usage_max_keys = 100000;
char *database_name = nullptr;

// ---- the shared table -----------------------------------------------------------------------

constexpr uint64 kEmpty = 0;
constexpr uint64 kReserved = UINT64_MAX;  // being claimed: its database is written next
constexpr int kKeyParts = 64;
constexpr int kTenantParts = 16;

struct Slot {
  pg_atomic_uint64 id;          // kEmpty, kReserved, or the key id (the tenant hash)
  Oid dboid;                    // written before id is published
  pg_atomic_uint32 event;       // 1: a rate_limited event waits for the worker
  pg_atomic_uint64 tat;         // the limiter's state (core::admit), microseconds
  pg_atomic_uint64 last_used;   // the last VALID answer's transaction start (keys)
  pg_atomic_uint64 limited_at;  // the first refusal of the current window
  int32 limit;                  // the limit and window of that refusal (for the event)
  int32 unused;
  int64 window_us;
  union {
    pg_atomic_uint64 counts[kCountedCodes];  // keys: answers since the last flush, per code
    char tenant_id[72];                      // tenants: the id, cut to 71 bytes
  };
};
static_assert(sizeof(Slot) == 128, "a slot is two cache lines");

struct Region {
  uint32 nslots;
  uint32 nparts;
  uint32 part_size;
  uint32 first_lock;
  pg_atomic_uint32 used;
};

struct Shared {
  Region keys, tenants;
  pg_atomic_uint64 uncounted;
  pg_atomic_uint64 limited_refusals;
  pg_atomic_uint64 flushes;
  pg_atomic_uint64 flush_errors;
  pg_atomic_uint64 last_flush;
  pg_atomic_uint32 worker_pid;
  // the slots follow: keys.nslots, then tenants.nslots
};

Shared *shared = nullptr;
Slot *slots = nullptr;
LWLockPadded *locks = nullptr;
bool preloaded = false;

uint32 key_slots() {
  uint64 n = static_cast<uint64>(usage_max_keys) * 5 / 4;  // at most 80% full
  return static_cast<uint32>((n + kKeyParts - 1) / kKeyParts * kKeyParts);
}
uint32 tenant_slots() {
  uint32 n = Max(1024, key_slots() / 64);
  return (n + kTenantParts - 1) / kTenantParts * kTenantParts;
}
Size shared_size() { return add_size(MAXALIGN(sizeof(Shared)), mul_size(key_slots() + tenant_slots(), sizeof(Slot))); }

void init_region(Region *r, uint32 nslots, uint32 nparts, uint32 first_lock) {
  r->nslots = nslots;
  r->nparts = nparts;
  r->part_size = nslots / nparts;
  r->first_lock = first_lock;
  pg_atomic_init_u32(&r->used, 0);
}

void init_slot(Slot *s) {
  memset(static_cast<void *>(s), 0, sizeof(Slot));
  pg_atomic_init_u64(&s->id, kEmpty);
  pg_atomic_init_u32(&s->event, 0);
  pg_atomic_init_u64(&s->tat, 0);
  pg_atomic_init_u64(&s->last_used, 0);
  pg_atomic_init_u64(&s->limited_at, 0);
}

void attach_shared(void *memory, LWLockPadded *tranche, bool found) {
  shared = static_cast<Shared *>(memory);
  slots = reinterpret_cast<Slot *>(reinterpret_cast<char *>(shared) + MAXALIGN(sizeof(Shared)));
  locks = tranche;
  if (!found) {
    init_region(&shared->keys, key_slots(), kKeyParts, 0);
    init_region(&shared->tenants, tenant_slots(), kTenantParts, kKeyParts);
    pg_atomic_init_u64(&shared->uncounted, 0);
    pg_atomic_init_u64(&shared->limited_refusals, 0);
    pg_atomic_init_u64(&shared->flushes, 0);
    pg_atomic_init_u64(&shared->flush_errors, 0);
    pg_atomic_init_u64(&shared->last_flush, 0);
    pg_atomic_init_u32(&shared->worker_pid, 0);
    for (uint32 i = 0; i < shared->keys.nslots + shared->tenants.nslots; i++) init_slot(&slots[i]);
  }
}

Slot *region_slots(const Region *r) { return r == &shared->keys ? slots : slots + shared->keys.nslots; }

uint64 mix(uint64 x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= UINT64CONST(0xbf58476d1ce4e5b9);
  x ^= x >> 27;
  x *= UINT64CONST(0x94d049bb133111eb);
  x ^= x >> 31;
  return x;
}

uint32 part_of(const Region *r, uint64 id, Oid db) { return static_cast<uint32>(mix(id ^ db) % r->nparts); }

LWLock *lock_of(const Region *r, uint32 part) { return &locks[r->first_lock + part].lock; }

// The slot of (id, db) in its partition, claimed when create; null if absent (or the table
// is full). The partition's lock must be held (shared is enough). The table is full at 4/5
// of its slots (usage_max_keys keys): beyond that, linear probing makes the search for a
// new id (up to the first empty slot) run over much of a partition, on every verify.
Slot *lookup(Region *r, uint32 part, uint64 id, Oid db, bool create) {
  Slot *base = region_slots(r) + static_cast<size_t>(part) * r->part_size;
  uint32 start = static_cast<uint32>((mix(id ^ db) >> 32) % r->part_size);
  for (uint32 i = 0; i < r->part_size;) {
    Slot *s = base + (start + i) % r->part_size;
    uint64 cur = pg_atomic_read_u64(&s->id);
    while (cur == kReserved) {  // its claimer writes the database next
      pg_spin_delay();
      cur = pg_atomic_read_u64(&s->id);
    }
    if (cur == id) {
      pg_read_barrier();
      if (s->dboid == db) return s;
    } else if (cur == kEmpty) {
      // the end of the chain: the slot would be here or before
      if (!create || static_cast<uint64>(pg_atomic_read_u32(&r->used)) * 5 >= static_cast<uint64>(r->nslots) * 4)
        return nullptr;
      uint64 expected = kEmpty;
      if (!pg_atomic_compare_exchange_u64(&s->id, &expected, kReserved)) continue;  // taken meanwhile: look again
      s->dboid = db;
      pg_write_barrier();
      pg_atomic_write_u64(&s->id, id);
      pg_atomic_fetch_add_u32(&r->used, 1);
      return s;
    }
    i++;
  }
  return nullptr;
}

// The slot id of a tenant: never kEmpty or kReserved.
uint64 tenant_id_hash(const char *id, size_t len) {
  uint64 h = hash_bytes_extended(reinterpret_cast<const unsigned char *>(id), static_cast<int>(len), 0x61706b);
  return h == kEmpty || h == kReserved ? 1 : h;
}

int64 now_us() { return GetCurrentTimestamp(); }

// One answer against a limiter; on refusal the first one of a window is marked for an event.
bool admit_slot(Slot *s, const RateLimit &limit) {
  core::Rate rate = core::rate_of(limit.limit, limit.window_us);
  int64 now = now_us();
  uint64 cur = pg_atomic_read_u64(&s->tat);
  for (;;) {
    int64 next;
    if (!core::admit(rate, static_cast<int64>(cur), now, &next)) break;
    if (pg_atomic_compare_exchange_u64(&s->tat, &cur, static_cast<uint64>(next))) return true;
  }
  uint64 since = pg_atomic_read_u64(&s->limited_at);
  if (since == 0 || now - static_cast<int64>(since) >= limit.window_us) {
    if (pg_atomic_compare_exchange_u64(&s->limited_at, &since, static_cast<uint64>(now))) {
      s->limit = limit.limit;
      s->window_us = limit.window_us;
      pg_write_barrier();
      pg_atomic_write_u32(&s->event, 1);
    }
  }
  return false;
}

void undo_admit(Slot *s, const RateLimit &limit) {
  core::Rate rate = core::rate_of(limit.limit, limit.window_us);
  pg_atomic_fetch_sub_u64(&s->tat, static_cast<uint64>(rate.interval_us));
}

bool warned_unenforceable = false;

// Whether this backend's database is apikeys.database_name: -1 not known yet.
int metered = -1;

bool slot_idle(Slot *s, bool key, int64 now) {
  if (pg_atomic_read_u32(&s->event) != 0) return false;
  if (!core::idle(static_cast<int64>(pg_atomic_read_u64(&s->tat)), now)) return false;
  if (key)
    for (int c = 0; c < kCountedCodes; c++)
      if (pg_atomic_read_u64(&s->counts[c]) != 0) return false;
  return true;
}

// Rebuilds one partition without its idle slots (exclusive lock held); returns the number freed.
int64 rebuild(Region *r, uint32 part, Slot *scratch, int64 now) {
  Slot *base = region_slots(r) + static_cast<size_t>(part) * r->part_size;
  bool key = r == &shared->keys;
  uint32 kept = 0;
  int64 freed = 0;
  for (uint32 i = 0; i < r->part_size; i++) {
    Slot *s = base + i;
    uint64 id = pg_atomic_read_u64(&s->id);
    if (id == kEmpty) continue;
    if (slot_idle(s, key, now)) {
      freed++;
      continue;
    }
    memcpy(static_cast<void *>(&scratch[kept++]), s, sizeof(Slot));
  }
  if (freed == 0) return 0;
  for (uint32 i = 0; i < r->part_size; i++) init_slot(base + i);
  for (uint32 k = 0; k < kept; k++) {
    Slot *src = &scratch[k];
    uint64 id = pg_atomic_read_u64(&src->id);
    uint32 start = static_cast<uint32>((mix(id ^ src->dboid) >> 32) % r->part_size);
    for (uint32 i = 0; i < r->part_size; i++) {
      Slot *d = base + (start + i) % r->part_size;
      if (pg_atomic_read_u64(&d->id) != kEmpty) continue;
      memcpy(static_cast<void *>(d), src, sizeof(Slot));
      break;
    }
  }
  pg_atomic_fetch_sub_u32(&r->used, static_cast<uint32>(freed));
  return freed;
}

}  // namespace

namespace apikeys::glue {

bool usage_available() { return preloaded; }

void check_rate_limit(const char *what, const char *name, Datum limit, bool limit_null, Datum window,
                      bool window_null) {
  if (limit_null && window_null) return;
  if (limit_null)
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
             errmsg("%s \"%s\" has a rate_window but no rate_limit", what, name), errhint("Give both, or neither.")));
  if (DatumGetInt32(limit) <= 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("rate_limit of %s \"%s\" must be positive (got %d)", what, name, DatumGetInt32(limit)),
                    errhint("Use a positive number of answers per rate_window, or NULL for no limit.")));
  static Interval zero = {0, 0, 0};
  if (window_null || DatumGetBool(DirectFunctionCall2(interval_le, window, IntervalPGetDatum(&zero))))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("%s \"%s\" has a rate_limit but no positive rate_window", what, name),
                    errhint("Give the window the limit counts in, e.g. rate_window => '1 minute'.")));
  if (!preloaded)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("rate limits need the apikeys library in shared_preload_libraries"),
                    errhint("Add apikeys to shared_preload_libraries in postgresql.conf and restart the server; rate "
                            "limits live in shared memory.")));
}

bool usage_admit(int64 key_id, text *tenant_id, const RateLimit &key_rate, const RateLimit &tenant_rate) {
  if (key_rate.limit <= 0 && tenant_rate.limit <= 0) return true;
  if (shared == nullptr) {
    // A limit set while the library was preloaded cannot be kept now: refused, not let through.
    if (!warned_unenforceable) {
      warned_unenforceable = true;
      ereport(WARNING, (errmsg("rate limits cannot be enforced: apikeys is not in shared_preload_libraries"),
                        errdetail("Keys with a rate limit answer RATE_LIMITED until the server is restarted with it."),
                        errhidestmt(true)));
    }
    return false;
  }
  Region *kr = &shared->keys;
  uint32 kpart = part_of(kr, static_cast<uint64>(key_id), MyDatabaseId);
  LWLockAcquire(lock_of(kr, kpart), LW_SHARED);
  Slot *ks = nullptr;
  bool ok = true;
  bool no_slot = false;  // a limit that the full table cannot keep: refused
  if (key_rate.limit > 0) {
    ks = lookup(kr, kpart, static_cast<uint64>(key_id), MyDatabaseId, true);
    no_slot = ks == nullptr;
    ok = ks != nullptr && admit_slot(ks, key_rate);
  }
  if (ok && tenant_rate.limit > 0) {
    Region *tr = &shared->tenants;
    uint64 h = tenant_id_hash(VARDATA_ANY(tenant_id), VARSIZE_ANY_EXHDR(tenant_id));
    uint32 tpart = part_of(tr, h, MyDatabaseId);
    LWLockAcquire(lock_of(tr, tpart), LW_SHARED);
    Slot *ts = lookup(tr, tpart, h, MyDatabaseId, true);
    if (ts != nullptr && ts->tenant_id[0] == '\0') {
      // The first claimer names the slot (the worker writes the tenant's events by it).
      size_t len = Min(VARSIZE_ANY_EXHDR(tenant_id), sizeof ts->tenant_id - 1);
      char name[sizeof ts->tenant_id] = {0};
      memcpy(name, VARDATA_ANY(tenant_id), len);
      memcpy(ts->tenant_id, name, sizeof name);
    }
    no_slot = no_slot || ts == nullptr;
    ok = ts != nullptr && admit_slot(ts, tenant_rate);
    LWLockRelease(lock_of(tr, tpart));
    if (!ok && ks != nullptr) undo_admit(ks, key_rate);  // the key's answer was not given
  }
  if (no_slot) pg_atomic_fetch_add_u64(&shared->limited_refusals, 1);
  LWLockRelease(lock_of(kr, kpart));
  return ok;
}

int counted_index(core::Code code) {
  switch (code) {
    case core::Code::Valid:
      return 0;
    case core::Code::Revoked:
      return 1;
    case core::Code::Inactive:
      return 2;
    case core::Code::Expired:
      return 3;
    case core::Code::TenantDisabled:
      return 4;
    case core::Code::OwnerDisabled:
      return 5;
    case core::Code::Forbidden:
      return 6;
    case core::Code::InsufficientPermissions:
      return 7;
    case core::Code::RateLimited:
      return 8;
    default:
      return -1;
  }
}

core::Code counted_code(int index) {
  static const core::Code codes[kCountedCodes] = {
      core::Code::Valid,          core::Code::Revoked,       core::Code::Inactive,  core::Code::Expired,
      core::Code::TenantDisabled, core::Code::OwnerDisabled, core::Code::Forbidden, core::Code::InsufficientPermissions,
      core::Code::RateLimited};
  return codes[index];
}

bool metered_database() {
  if (metered < 0) {
    const char *name = get_database_name(MyDatabaseId);
    metered = name != nullptr && database_name != nullptr && strcmp(name, database_name) == 0 ? 1 : 0;
  }
  return metered == 1;
}

const char *metered_database_name() { return database_name ? database_name : ""; }

void usage_count(int64 key_id, core::Code code) {
  if (shared == nullptr || !usage_tracking) return;
  int index = counted_index(code);
  if (index < 0 || !metered_database()) return;
  Region *r = &shared->keys;
  uint32 part = part_of(r, static_cast<uint64>(key_id), MyDatabaseId);
  LWLockAcquire(lock_of(r, part), LW_SHARED);
  Slot *s = lookup(r, part, static_cast<uint64>(key_id), MyDatabaseId, true);
  if (s == nullptr) {
    pg_atomic_fetch_add_u64(&shared->uncounted, 1);
  } else {
    pg_atomic_fetch_add_u64(&s->counts[index], 1);
    if (code == core::Code::Valid) {
      auto at = static_cast<uint64>(GetCurrentTransactionStartTimestamp());
      if (pg_atomic_read_u64(&s->last_used) < at) pg_atomic_write_u64(&s->last_used, at);
    }
  }
  LWLockRelease(lock_of(r, part));
}

void for_each_count(bool take, int64 key_id, CountsFn f, void *ctx) {
  if (shared == nullptr) return;
  Region *r = &shared->keys;
  Slot *base = region_slots(r);
  uint32 first = 0, last = r->nparts;
  if (key_id != 0) {
    first = part_of(r, static_cast<uint64>(key_id), MyDatabaseId);
    last = first + 1;
  }
  for (uint32 part = first; part < last; part++) {
    LWLockAcquire(lock_of(r, part), LW_SHARED);
    for (uint32 i = 0; i < r->part_size; i++) {
      Slot *s = base + static_cast<size_t>(part) * r->part_size + i;
      uint64 id = pg_atomic_read_u64(&s->id);
      if (id == kEmpty || id == kReserved || s->dboid != MyDatabaseId) continue;
      if (key_id != 0 && id != static_cast<uint64>(key_id)) continue;
      SlotCounts c;
      c.key_id = static_cast<int64>(id);
      bool any = false;
      for (int k = 0; k < kCountedCodes; k++) {
        c.counts[k] = take ? pg_atomic_exchange_u64(&s->counts[k], 0) : pg_atomic_read_u64(&s->counts[k]);
        any = any || c.counts[k] != 0;
      }
      c.last_used = static_cast<TimestampTz>(pg_atomic_read_u64(&s->last_used));
      if (any) f(ctx, c);
    }
    LWLockRelease(lock_of(r, part));
  }
}

void give_back(const SlotCounts &c) {
  if (shared == nullptr) return;
  Region *r = &shared->keys;
  uint32 part = part_of(r, static_cast<uint64>(c.key_id), MyDatabaseId);
  LWLockAcquire(lock_of(r, part), LW_SHARED);
  Slot *s = lookup(r, part, static_cast<uint64>(c.key_id), MyDatabaseId, true);
  if (s != nullptr)
    for (int k = 0; k < kCountedCodes; k++)
      if (c.counts[k] != 0) pg_atomic_fetch_add_u64(&s->counts[k], c.counts[k]);
  LWLockRelease(lock_of(r, part));
}

void take_events(EventFn f, void *ctx) {
  if (shared == nullptr) return;
  for (Region *r : {&shared->keys, &shared->tenants}) {
    bool tenant = r == &shared->tenants;
    Slot *base = region_slots(r);
    for (uint32 part = 0; part < r->nparts; part++) {
      LWLockAcquire(lock_of(r, part), LW_SHARED);
      for (uint32 i = 0; i < r->part_size; i++) {
        Slot *s = base + static_cast<size_t>(part) * r->part_size + i;
        uint64 id = pg_atomic_read_u64(&s->id);
        if (id == kEmpty || id == kReserved || s->dboid != MyDatabaseId) continue;
        if (pg_atomic_read_u32(&s->event) == 0 || pg_atomic_exchange_u32(&s->event, 0) == 0) continue;
        pg_read_barrier();
        SlotEvent e{};
        e.tenant = tenant;
        e.key_id = tenant ? 0 : static_cast<int64>(id);
        e.tenant_hash = tenant ? id : 0;
        if (tenant) {
          memcpy(e.tenant_id, s->tenant_id, sizeof e.tenant_id);
          e.tenant_id[sizeof e.tenant_id - 1] = '\0';
          e.tenant_id_cut = strlen(e.tenant_id) == sizeof e.tenant_id - 1;
        }
        e.first_at = static_cast<TimestampTz>(pg_atomic_read_u64(&s->limited_at));
        e.limit = s->limit;
        e.window_us = s->window_us;
        f(ctx, e);
      }
      LWLockRelease(lock_of(r, part));
    }
  }
}

void put_back_event(const SlotEvent &e) {
  if (shared == nullptr) return;
  Region *r = e.tenant ? &shared->tenants : &shared->keys;
  uint64 id = e.tenant ? e.tenant_hash : static_cast<uint64>(e.key_id);
  uint32 part = part_of(r, id, MyDatabaseId);
  LWLockAcquire(lock_of(r, part), LW_SHARED);
  Slot *s = lookup(r, part, id, MyDatabaseId, false);
  if (s != nullptr) pg_atomic_write_u32(&s->event, 1);
  LWLockRelease(lock_of(r, part));
}

int64 evict_idle() {
  if (shared == nullptr) return 0;
  int64 freed = 0;
  int64 now = now_us();
  for (Region *r : {&shared->keys, &shared->tenants}) {
    if (static_cast<uint64>(pg_atomic_read_u32(&r->used)) * 4 <= static_cast<uint64>(r->nslots) * 3) continue;
    Slot *scratch = static_cast<Slot *>(palloc(sizeof(Slot) * r->part_size));
    for (uint32 part = 0; part < r->nparts; part++) {
      LWLockAcquire(lock_of(r, part), LW_EXCLUSIVE);
      freed += rebuild(r, part, scratch, now);
      LWLockRelease(lock_of(r, part));
    }
    pfree(scratch);
  }
  return freed;
}

uint64 tenant_hash(const char *tenant_id, size_t len) { return tenant_id_hash(tenant_id, len); }

UsageStatus usage_status() {
  UsageStatus st{};
  st.preloaded = preloaded;
  st.tracking = usage_tracking;
  st.metered_here = metered_database();
  if (shared == nullptr) return st;
  st.slots_total = shared->keys.nslots;
  st.slots_used = pg_atomic_read_u32(&shared->keys.used);
  st.tenant_slots_total = shared->tenants.nslots;
  st.tenant_slots_used = pg_atomic_read_u32(&shared->tenants.used);
  st.uncounted = static_cast<int64>(pg_atomic_read_u64(&shared->uncounted));
  st.limited_refusals = static_cast<int64>(pg_atomic_read_u64(&shared->limited_refusals));
  st.flushes = static_cast<int64>(pg_atomic_read_u64(&shared->flushes));
  st.flush_errors = static_cast<int64>(pg_atomic_read_u64(&shared->flush_errors));
  st.last_flush = static_cast<TimestampTz>(pg_atomic_read_u64(&shared->last_flush));
  st.worker_pid = static_cast<int>(pg_atomic_read_u32(&shared->worker_pid));
  return st;
}

void note_flush(bool ok) {
  if (shared == nullptr) return;
  pg_atomic_fetch_add_u64(ok ? &shared->flushes : &shared->flush_errors, 1);
  if (ok) pg_atomic_write_u64(&shared->last_flush, static_cast<uint64>(GetCurrentTimestamp()));
}

void set_worker_pid(int pid) {
  if (shared != nullptr) pg_atomic_write_u32(&shared->worker_pid, static_cast<uint32>(pid));
}

int flush_interval_ms() { return flush_interval_s * 1000; }

TimestampTz utc_hour(TimestampTz t) { return t - ((t % USECS_PER_HOUR) + USECS_PER_HOUR) % USECS_PER_HOUR; }
int last_used_granularity_s() { return last_used_granularity; }

void usage_init() {
  DefineCustomBoolVariable("apikeys.usage_tracking", "Whether verify counts its answers per key, code and hour.",
                           "Rate limits are enforced either way. Needs apikeys in shared_preload_libraries. Set in "
                           "postgresql.conf (a reload), or by a superuser for a session.",
                           &usage_tracking, true, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("apikeys.usage_flush_interval",
                          "How often the usage writer moves the counts into apikeys.usage.", nullptr, &flush_interval_s,
                          10, 1, 3600, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("apikeys.last_used_granularity",
                          "How far keys.last_used_at lags the last use at most: it is advanced at most once per "
                          "key per this period.",
                          nullptr, &last_used_granularity, 600, 0, 86400, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr,
                          nullptr);
  // The settings fixed at server start exist only when preloaded (they cannot be made later).
  if (!process_shared_preload_libraries_in_progress) return;
  preloaded = true;
  DefineCustomIntVariable("apikeys.usage_max_keys",
                          "How many keys shared memory can count and rate-limit at once (128 bytes per slot, 1.25 "
                          "slots per key).",
                          nullptr, &usage_max_keys, 100000, 1000, 10000000, PGC_POSTMASTER, 0, nullptr, nullptr,
                          nullptr);
  DefineCustomStringVariable("apikeys.database_name", "The database whose usage the usage writer records.",
                             "Answers in other databases are rate-limited but not counted.", &database_name, "postgres",
                             PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);

  request_shared_memory("apikeys usage", shared_size, kKeyParts + kTenantParts, attach_shared);
}

}  // namespace apikeys::glue

// ---- SQL -----------------------------------------------------------------------------------

namespace {

struct PendingCtx {
  Tuplestorestate *store;
  TupleDesc desc;
  TimestampTz hour;
};

void put_pending(void *ctx, const apikeys::glue::SlotCounts &c) {
  auto *p = static_cast<PendingCtx *>(ctx);
  for (int k = 0; k < kCountedCodes; k++) {
    if (c.counts[k] == 0) continue;
    Datum values[5];
    bool nulls[5] = {false, false, false, false, false};
    values[0] = Int64GetDatum(c.key_id);
    values[1] = TimestampTzGetDatum(p->hour);
    values[2] = CStringGetTextDatum(core::code_text(apikeys::glue::counted_code(k)));
    values[3] = Int64GetDatum(static_cast<int64>(c.counts[k]));
    values[4] = TimestampTzGetDatum(c.last_used);
    nulls[4] = c.last_used == 0;
    tuplestore_putvalues(p->store, p->desc, values, nulls);
  }
}

}  // namespace

// apikeys._usage_pending(key_id bigint): the counts in shared memory not yet in apikeys.usage
// (of one key, or of every key when NULL), as rows of the current hour.
APIKEYS_FUNCTION(apikeys_usage_pending) {
  ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  InitMaterializedSRF(fcinfo, 0);
  PendingCtx ctx{rsinfo->setResult, rsinfo->setDesc, apikeys::glue::utc_hour(GetCurrentTimestamp())};
  int64 key_id = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
  if (PG_ARGISNULL(0) || key_id != 0) apikeys::glue::for_each_count(false, key_id, put_pending, &ctx);
  return (Datum)0;
}

// apikeys.usage_status(): whether metering is on here, the writer's state, the slots.
APIKEYS_FUNCTION(apikeys_usage_status) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "apikeys: record expected");
  apikeys::glue::UsageStatus st = apikeys::glue::usage_status();
  Datum v[15];
  bool n[15] = {false};
  v[0] = BoolGetDatum(st.preloaded && st.tracking && st.metered_here);
  v[1] = BoolGetDatum(st.preloaded);
  v[2] = BoolGetDatum(st.tracking);
  v[3] = CStringGetTextDatum(apikeys::glue::metered_database_name());
  v[4] = TimestampTzGetDatum(st.last_flush);
  n[4] = st.last_flush == 0;
  v[5] = (Datum)0;
  n[5] = st.last_flush == 0;
  if (!n[5]) v[5] = DirectFunctionCall2(timestamp_mi, TimestampTzGetDatum(GetCurrentTimestamp()), v[4]);
  v[6] = Int64GetDatum(st.slots_used);
  v[7] = Int64GetDatum(st.slots_total);
  v[8] = Int64GetDatum(st.tenant_slots_used);
  v[9] = Int64GetDatum(st.tenant_slots_total);
  v[10] = Int64GetDatum(st.uncounted);
  v[11] = Int64GetDatum(st.limited_refusals);
  v[12] = Int64GetDatum(st.flush_errors);
  v[13] = Int32GetDatum(st.worker_pid);
  n[13] = st.worker_pid == 0;
  v[14] = BoolGetDatum(apikeys::glue::logs_redacted());
  desc = BlessTupleDesc(desc);
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, v, n)));
}

// apikeys._check_rate_limit(what, name, rate_limit, rate_window): check_rate_limit for the
// tenants' and key sets' triggers.
APIKEYS_FUNCTION(apikeys_check_rate_limit) {
  apikeys::glue::check_rate_limit(text_to_cstring(PG_GETARG_TEXT_PP(0)),
                                  PG_ARGISNULL(1) ? "<NULL>" : text_to_cstring(PG_GETARG_TEXT_PP(1)),
                                  PG_GETARG_DATUM(2), PG_ARGISNULL(2), PG_GETARG_DATUM(3), PG_ARGISNULL(3));
  PG_RETURN_VOID();
}
