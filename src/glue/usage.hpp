// Usage metering and rate limits: the shared-memory table of per-key (and per-tenant) slots
// that verify counts into and rate-limits with, without a lock that all backends share and
// without a write to any table. Only with shared_preload_libraries = 'apikeys'; the
// background worker (usage_worker.hpp) writes the counts out.
#pragma once

#include "boundary.hpp"
#include "settings.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace apikeys::glue {

// True if the library was loaded by shared_preload_libraries (shared memory is there).
bool usage_available();

// Validates a rate limit of a key, key set or tenant (what: "key", "key set", "tenant";
// name: the object's name): both or neither of limit and window, a positive limit, a
// positive window (22023); and a limit needs shared memory (55000 without the preload).
void check_rate_limit(const char *what, const char *name, Datum limit, bool limit_null, Datum window, bool window_null);

// One answer of the key's allowance, and of its tenant's (tenant_rate, for all the tenant's
// keys together): false means RATE_LIMITED (nothing is taken then). A limit that cannot be
// kept because the table is full refuses: a limited key is never let through for lack of
// memory. The first refusal of a key (or tenant) in a window is marked for a rate_limited
// event, which the worker writes.
bool usage_admit(int64 key_id, text *tenant_id, const RateLimit &key_rate, const RateLimit &tenant_rate);

// Counts an answer that identifies a key (core::identifies_key), when metering is on in
// this database (apikeys.usage_tracking, apikeys.database_name); VALID answers also note the
// key's last use. Never raises.
void usage_count(int64 key_id, core::Code code);

// ---- for the worker and the SQL functions that read usage ---------------------------------

// The counted codes: the index of a code in a slot's counters, or -1.
int counted_index(core::Code code);
core::Code counted_code(int index);
constexpr int kCountedCodes = 9;

// One slot's pending work, as the worker takes it (counts since the last flush, zeroed in
// shared memory by the take) or as a reader sees it (not zeroed).
struct SlotCounts {
  int64 key_id;
  uint64 counts[kCountedCodes];
  TimestampTz last_used;  // 0: no VALID answer yet
};
struct SlotEvent {
  bool tenant;         // a tenant-wide limit (tenant_id names it), else the key's
  int64 key_id;        // for a key
  char tenant_id[72];  // for a tenant: its id as far as the slot could hold it
  bool tenant_id_cut;  // ... longer ids are found by their hash
  uint64 tenant_hash;
  TimestampTz first_at;
  int32 limit;
  int64 window_us;
};

// Calls f(ctx, counts) for every key slot of this database with counts or a last use
// (key_id: only that key's slot, 0: all); with take, the counts are taken (zeroed) as they
// are read. f must not raise: it runs under a partition's lock.
using CountsFn = void (*)(void *ctx, const SlotCounts &counts);
void for_each_count(bool take, int64 key_id, CountsFn f, void *ctx);
// Puts counts back that a failed flush took.
void give_back(const SlotCounts &c);
// Takes the marked rate_limited events of this database, calling f(ctx, event) (which must
// not raise); put_back_event marks one again after a failed flush.
using EventFn = void (*)(void *ctx, const SlotEvent &event);
void take_events(EventFn f, void *ctx);
void put_back_event(const SlotEvent &e);
// Frees idle slots (no counts, no waiting event, rate-limit state fresh) of every database
// when the table is more than three quarters full; returns the number freed.
int64 evict_idle();
// The 64-bit hash of a tenant id that names its slot.
uint64 tenant_hash(const char *tenant_id, size_t len);

struct UsageStatus {
  bool preloaded;
  bool tracking;      // apikeys.usage_tracking
  bool metered_here;  // this database is apikeys.database_name
  int64 slots_total, slots_used, tenant_slots_total, tenant_slots_used;
  int64 uncounted;         // answers not counted for lack of a slot
  int64 limited_refusals;  // answers refused because a limited key found no slot
  int64 flushes, flush_errors;
  TimestampTz last_flush;  // 0: never
  int worker_pid;          // 0: not running
};
UsageStatus usage_status();

// The worker's side of the shared state.
void note_flush(bool ok);
void set_worker_pid(int pid);
// Whether this backend's database is the metered one (apikeys.database_name).
bool metered_database();
const char *metered_database_name();
int flush_interval_ms();
// The UTC hour a time falls in (what apikeys.usage.hour holds).
TimestampTz utc_hour(TimestampTz t);
int last_used_granularity_s();

// From _PG_init.
void usage_init();

}  // namespace apikeys::glue
