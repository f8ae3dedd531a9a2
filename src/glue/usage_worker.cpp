// The usage writer: a background worker for one database (apikeys.database_name) that every
// apikeys.usage_flush_interval, and at each full hour, moves the counts of shared memory into
// apikeys.usage, advances keys.last_used_at, writes the rate_limited events and frees idle
// slots. One transaction per flush; a failed flush gives its counts back and is retried at
// the next one. It flushes what is left at a clean shutdown; it never runs on a standby.
// Woken by each commit that queued event notifications, it sends them (notify_queue.hpp).
#include "usage_worker.hpp"

#include "notify_queue.hpp"
#include "usage.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

PGDLLEXPORT void apikeys_usage_worker(Datum arg);
}

namespace core = apikeys::core;
using apikeys::glue::kCountedCodes;
using apikeys::glue::SlotCounts;
using apikeys::glue::SlotEvent;

namespace {

volatile sig_atomic_t got_sigterm = false;

void handle_sigterm(SIGNAL_ARGS) {
  int save_errno = errno;
  got_sigterm = true;
  SetLatch(MyLatch);
  errno = save_errno;
}

// A growing palloc'd array (in the flush's memory context).
template <typename T>
struct List {
  T *items = nullptr;
  int n = 0, cap = 0;
  void push(const T &v) {
    if (n == cap) {
      cap = cap == 0 ? 64 : cap * 2;
      items = items == nullptr ? static_cast<T *>(palloc(sizeof(T) * cap))
                               : static_cast<T *>(repalloc(items, sizeof(T) * cap));
    }
    items[n++] = v;
  }
};

// What one flush takes out of shared memory.
struct Batch {
  List<Datum> keys, codes, counts;  // (key, code, count) triples
  List<Datum> used_keys, used_at;   // last uses since the last flush
  List<SlotCounts> taken;           // to give back after a failure
  List<SlotEvent> events;
};

void take_counts(void *ctx, const SlotCounts &c) {
  auto *b = static_cast<Batch *>(ctx);
  b->taken.push(c);
  for (int k = 0; k < kCountedCodes; k++) {
    if (c.counts[k] == 0) continue;
    b->keys.push(Int64GetDatum(c.key_id));
    b->codes.push(CStringGetTextDatum(core::code_text(apikeys::glue::counted_code(k))));
    b->counts.push(Int64GetDatum(static_cast<int64>(c.counts[k])));
  }
  if (c.counts[0] != 0 && c.last_used != 0) {  // VALID answers since the last flush
    b->used_keys.push(Int64GetDatum(c.key_id));
    b->used_at.push(TimestampTzGetDatum(c.last_used));
  }
}

void take_event(void *ctx, const SlotEvent &e) { static_cast<Batch *>(ctx)->events.push(e); }

ArrayType *array_of(Datum *d, int n, Oid type) {
  int16 len;
  bool byval;
  char align;
  get_typlenbyvalalign(type, &len, &byval, &align);
  return construct_array(d, n, type, len, byval, align);
}

void run(const char *sql, int nargs, Oid *types, Datum *values) {
  int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
  if (rc < 0) elog(ERROR, "apikeys usage writer: SPI_execute_with_args failed (%d)", rc);
}

void write_batch(const Batch &b, TimestampTz hour) {
  if (b.keys.n > 0) {
    Oid types[4] = {TIMESTAMPTZOID, INT8ARRAYOID, TEXTARRAYOID, INT8ARRAYOID};
    Datum values[4] = {TimestampTzGetDatum(hour), PointerGetDatum(array_of(b.keys.items, b.keys.n, INT8OID)),
                       PointerGetDatum(array_of(b.codes.items, b.codes.n, TEXTOID)),
                       PointerGetDatum(array_of(b.counts.items, b.counts.n, INT8OID))};
    // Counts of keys deleted meanwhile have nowhere to go.
    run("INSERT INTO apikeys.usage AS u (key_id, tenant_id, hour, code, count) "
        "SELECT c.key_id, k.tenant_id, $1, c.code, c.n "
        "FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4)) AS c(key_id, code, n) "
        "JOIN apikeys.keys k ON k.key_id = c.key_id "
        "ON CONFLICT (key_id, hour, code) DO UPDATE SET count = u.count OPERATOR(pg_catalog.+) EXCLUDED.count",
        4, types, values);
  }
  if (b.used_keys.n > 0) {
    Interval granularity{static_cast<TimeOffset>(apikeys::glue::last_used_granularity_s()) * USECS_PER_SEC, 0, 0};
    Oid types[3] = {INT8ARRAYOID, TIMESTAMPTZARRAYOID, INTERVALOID};
    Datum values[3] = {PointerGetDatum(array_of(b.used_keys.items, b.used_keys.n, INT8OID)),
                       PointerGetDatum(array_of(b.used_at.items, b.used_at.n, TIMESTAMPTZOID)),
                       IntervalPGetDatum(&granularity)};
    // Forward only, and at most once per key per granularity: a busy key is one row update
    // per period, not one per flush.
    run("UPDATE apikeys.keys k SET last_used_at = c.t "
        "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS c(key_id, t) "
        "WHERE k.key_id = c.key_id AND (k.last_used_at IS NULL "
        "OR k.last_used_at OPERATOR(pg_catalog.<=) (c.t OPERATOR(pg_catalog.-) $3))",
        3, types, values);
  }
  for (int i = 0; i < b.events.n; i++) {
    const SlotEvent &e = b.events.items[i];
    Interval window{static_cast<TimeOffset>(e.window_us), 0, 0};
    Oid types[5] = {INT8OID, TEXTOID, INT4OID, INTERVALOID, TIMESTAMPTZOID};
    Datum values[5] = {Int64GetDatum(e.key_id), CStringGetTextDatum(e.tenant_id), Int32GetDatum(e.limit),
                       IntervalPGetDatum(&window), TimestampTzGetDatum(e.first_at)};
    if (!e.tenant) {
      run("SELECT apikeys._record_event(k.tenant_id, k.key_id, k.key_set_id, 'rate_limited', "
          "pg_catalog.jsonb_build_object('scope', 'key', 'rate_limit', $3, 'rate_window', $4, 'first_at', $5)) "
          "FROM apikeys.keys k WHERE k.key_id = $1 AND $2 IS NOT NULL",
          5, types, values);
    } else if (!e.tenant_id_cut) {
      run("SELECT apikeys._record_event(t.tenant_id, NULL, NULL, 'rate_limited', "
          "pg_catalog.jsonb_build_object('scope', 'tenant', 'rate_limit', $3, 'rate_window', $4, 'first_at', $5)) "
          "FROM apikeys.tenants t WHERE t.tenant_id = $2 AND $1 IS NOT NULL",
          5, types, values);
    } else {
      // An id longer than the slot holds: the tenants it may be, told apart by their hash.
      run("SELECT t.tenant_id FROM apikeys.tenants t WHERE pg_catalog.left(t.tenant_id, 71) = $2 "
          "AND t.rate_limit IS NOT NULL AND $1 IS NOT NULL AND $3 IS NOT NULL AND $4 IS NOT NULL "
          "AND $5 IS NOT NULL",
          5, types, values);
      int found = -1;
      for (uint64 r = 0; r < SPI_processed && found < 0; r++) {
        bool isnull;
        Datum id = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);
        text *t = DatumGetTextPP(id);
        if (apikeys::glue::tenant_hash(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)) == e.tenant_hash) {
          found = static_cast<int>(r);
          values[1] = PointerGetDatum(DatumGetTextPCopy(id));
        }
      }
      if (found >= 0)
        run("SELECT apikeys._record_event($2, NULL, NULL, 'rate_limited', "
            "pg_catalog.jsonb_build_object('scope', 'tenant', 'rate_limit', $3, 'rate_window', $4, 'first_at', $5)) "
            "WHERE $1 IS NOT NULL",
            5, types, values);
    }
  }
}

char last_error[256];
TimestampTz last_error_logged = 0;

// In a PG_CATCH block of one of the writer's transactions: takes the error, aborts the
// transaction and logs "apikeys usage writer: <what>: <message>", when it changes, else once
// a minute: a failure that keeps coming back (a broken schema, a full notification queue)
// does not fill the log. Returns in cxt.
void abort_and_log(MemoryContext cxt, const char *what) {
  MemoryContextSwitchTo(cxt);
  ErrorData *edata = CopyErrorData();
  FlushErrorState();
  AbortCurrentTransaction();
  char line[sizeof last_error];
  snprintf(line, sizeof line, "%s: %s", what, edata->message);
  TimestampTz now = GetCurrentTimestamp();
  if (strcmp(last_error, line) != 0 || TimestampDifferenceExceeds(last_error_logged, now, 60000)) {
    ereport(LOG, (errmsg("apikeys usage writer: %s: %s", what, edata->message)));
    strlcpy(last_error, line, sizeof last_error);
    last_error_logged = now;
  }
  FreeErrorData(edata);
}

// Writes the batch and commits the flush's transaction; on an error, logs it, aborts and
// returns false (nothing is raised).
bool write_and_commit(const Batch &b, TimestampTz hour, MemoryContext cxt) {
  volatile bool ok = true;
  PG_TRY();
  {
    if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "apikeys usage writer: SPI_connect failed");
    write_batch(b, hour);
    SPI_finish();
    PopActiveSnapshot();
    CommitTransactionCommand();
  }
  PG_CATCH();
  {
    ok = false;
    abort_and_log(cxt, "flush failed, counts kept for the next one");
  }
  PG_END_TRY();
  return ok;
}

// True if this database has apikeys 1.2 or later (the usage table).
bool schema_ready() {
  if (!OidIsValid(get_extension_oid("apikeys", true))) return false;
  Oid ns = get_namespace_oid("apikeys", true);
  return OidIsValid(ns) && OidIsValid(get_relname_relid("usage", ns));
}

bool said_not_ready = false;

// One flush. Errors are logged and the counts given back; nothing is raised.
void flush(MemoryContext cxt) {
  MemoryContextReset(cxt);
  MemoryContext old = MemoryContextSwitchTo(cxt);
  Batch *b = new (palloc(sizeof(Batch))) Batch();  // trivially destructible: freed with the context
  MemoryContextSwitchTo(old);

  SetCurrentStatementStartTimestamp();
  StartTransactionCommand();
  PushActiveSnapshot(GetTransactionSnapshot());
  pgstat_report_activity(STATE_RUNNING, "apikeys: flushing usage");
  bool ready = schema_ready();
  if (!ready) {
    if (!said_not_ready)
      ereport(LOG, (errmsg("apikeys usage writer: database \"%s\" has no apikeys 1.2 schema yet; counts wait in "
                           "shared memory",
                           apikeys::glue::metered_database_name())));
    said_not_ready = true;
    PopActiveSnapshot();
    CommitTransactionCommand();
    pgstat_report_activity(STATE_IDLE, nullptr);
    return;
  }
  said_not_ready = false;
  TimestampTz hour = apikeys::glue::utc_hour(GetCurrentTimestamp());
  old = MemoryContextSwitchTo(cxt);
  apikeys::glue::for_each_count(true, 0, take_counts, b);
  apikeys::glue::take_events(take_event, b);
  MemoryContextSwitchTo(old);

  bool ok = write_and_commit(*b, hour, cxt);
  MemoryContextSwitchTo(TopMemoryContext);
  if (!ok) {
    for (int i = 0; i < b->taken.n; i++) apikeys::glue::give_back(b->taken.items[i]);
    for (int i = 0; i < b->events.n; i++) apikeys::glue::put_back_event(b->events.items[i]);
  }
  apikeys::glue::note_flush(ok);
  // Under pressure, the idle slots go (outside the transaction: only shared memory).
  // (The transaction's contexts are gone with it: back to TopMemoryContext, where the loop runs.)
  MemoryContextSwitchTo(cxt);
  apikeys::glue::evict_idle();
  MemoryContextSwitchTo(TopMemoryContext);
  pgstat_report_activity(STATE_IDLE, nullptr);
  pgstat_report_stat(true);
}

// Milliseconds until the next flush: the interval, or the next full hour if that is sooner
// (so that counts land in their own hour).
long next_wait_ms() {
  TimestampTz now = GetCurrentTimestamp();
  int64 to_hour = (USECS_PER_HOUR - ((now % USECS_PER_HOUR) + USECS_PER_HOUR) % USECS_PER_HOUR) / 1000 + 1;
  return Min(static_cast<int64>(apikeys::glue::flush_interval_ms()), to_hour);
}

// The notifications committed transactions queued (notify_queue.hpp), in a transaction of
// its own; an error (PostgreSQL's notification queue full) is logged, and they stay queued.
void send_notifications(MemoryContext cxt) {
  PG_TRY();
  { (void)apikeys::glue::notify_send_queued(); }
  PG_CATCH();
  { abort_and_log(cxt, "sending notifications failed, they stay queued"); }
  PG_END_TRY();
  MemoryContextSwitchTo(TopMemoryContext);
}

void worker_exit(int, Datum) {
  apikeys::glue::notify_set_sender(false);
  apikeys::glue::set_worker_pid(0);
}

}  // namespace

namespace apikeys::glue {

void usage_worker_init() {
  if (!process_shared_preload_libraries_in_progress) return;
  BackgroundWorker w;
  memset(&w, 0, sizeof w);
  w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  w.bgw_start_time = BgWorkerStart_RecoveryFinished;  // it writes: never on a standby
  w.bgw_restart_time = 10;
  snprintf(w.bgw_library_name, BGW_MAXLEN, "apikeys");
  snprintf(w.bgw_function_name, BGW_MAXLEN, "apikeys_usage_worker");
  snprintf(w.bgw_name, BGW_MAXLEN, "apikeys usage writer");
  snprintf(w.bgw_type, BGW_MAXLEN, "apikeys usage writer");
  RegisterBackgroundWorker(&w);
}

}  // namespace apikeys::glue

void apikeys_usage_worker(Datum) {
  pqsignal(SIGHUP, SignalHandlerForConfigReload);
  pqsignal(SIGTERM, handle_sigterm);
  BackgroundWorkerUnblockSignals();
  BackgroundWorkerInitializeConnection(apikeys::glue::metered_database_name(), nullptr, 0);
  apikeys::glue::set_worker_pid(MyProcPid);
  apikeys::glue::notify_set_sender(true);
  on_shmem_exit(worker_exit, 0);
  SetConfigOption("application_name", "apikeys usage writer", PGC_USERSET, PGC_S_SESSION);
  SetConfigOption("apikeys.actor", "apikeys usage writer", PGC_USERSET, PGC_S_SESSION);
  ereport(LOG, (errmsg("apikeys usage writer started for database \"%s\"", apikeys::glue::metered_database_name())));
  MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "apikeys usage writer", ALLOCSET_DEFAULT_SIZES);
  // Woken by each commit that queued notifications (their latch), and at each flush's time.
  TimestampTz flush_at = GetCurrentTimestamp() + next_wait_ms() * 1000;
  while (!got_sigterm) {
    long wait_ms = Max(0, (flush_at - GetCurrentTimestamp()) / 1000);
    (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms, PG_WAIT_EXTENSION);
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      ProcessConfigFile(PGC_SIGHUP);
      flush_at = Min(flush_at, GetCurrentTimestamp() + next_wait_ms() * 1000);
    }
    send_notifications(cxt);
    if (GetCurrentTimestamp() >= flush_at) {
      flush(cxt);
      flush_at = GetCurrentTimestamp() + next_wait_ms() * 1000;
    }
  }
  send_notifications(cxt);
  flush(cxt);  // what is left, at a shutdown or when terminated
  ereport(LOG, (errmsg("apikeys usage writer stopped")));
  proc_exit(1);  // not 0: a writer terminated alone is started again (at a shutdown it is not)
}
