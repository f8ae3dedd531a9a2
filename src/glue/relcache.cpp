// Relcache-backed knowledge of the extension's tables, the invalidation trigger, and the
// one-row index probe.
#include "relcache.hpp"

extern "C" {
#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

namespace apikeys::glue::relcache {

namespace {

constexpr int kMaxTables = 16;
Table *tables[kMaxTables];
int ntables = 0;
uint64 inval_count = 0;  // every invalidation that concerned a watched table

// True if an invalidation of relid may change what the backend knows of t: any one while t
// is not resolved (its OIDs are being looked up), else one of its own relations.
bool concerns(const Table &t, Oid relid) {
  if (relid == InvalidOid || !t.resolved) return true;
  if (relid == t.relid || relid == t.pkey) return true;
  for (int i = 0; i < kMaxIndexes && t.indexes[i] != nullptr; i++)
    if (relid == t.index[i]) return true;
  return false;
}

void callback(Datum, Oid relid) noexcept {
  for (int i = 0; i < ntables; i++) {
    Table &t = *tables[i];
    if (concerns(t, relid)) {
      t.resolved = false;
      t.generation++;
      inval_count++;
    }
  }
}

Oid relation_in(Oid nsp, const char *name) {
  Oid oid = get_relname_relid(name, nsp);
  if (!OidIsValid(oid))
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("relation apikeys.%s does not exist", name),
                    errhint("The apikeys library and the installed extension do not match: run ALTER EXTENSION "
                            "apikeys UPDATE.")));
  return oid;
}

// True if the trigger runs the C function that invalidates the table (1.0 named it
// apikeys_signing_keys_changed).
bool runs_invalidation(Oid fn) {
  HeapTuple tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
  if (!HeapTupleIsValid(tup)) return false;
  bool isnull;
  Datum src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
  bool yes = false;
  if (!isnull) {
    char *s = TextDatumGetCString(src);
    yes = strcmp(s, "apikeys_relation_changed") == 0 || strcmp(s, "apikeys_signing_keys_changed") == 0;
    pfree(s);
  }
  ReleaseSysCache(tup);
  return yes;
}

}  // namespace

void watch(Table *t) {
  if (ntables == kMaxTables) elog(ERROR, "apikeys: too many watched tables");
  tables[ntables++] = t;
}

void init() { CacheRegisterRelcacheCallback(callback, (Datum)0); }

void resolve(Table *t) {
  if (t->resolved) return;
  uint64 seen;
  do {  // again if an invalidation arrived while reading the catalogs
    seen = inval_count;
    Oid nsp = get_namespace_oid("apikeys", false);
    Oid relid = relation_in(nsp, t->name);
    Relation rel = table_open(relid, AccessShareLock);
#if PG_VERSION_NUM >= 180000
    Oid pkey = RelationGetPrimaryKeyIndex(rel, false);
#else
    Oid pkey = RelationGetPrimaryKeyIndex(rel);
#endif
    bool invalidates = false;
    for (int i = 0; rel->trigdesc != nullptr && i < rel->trigdesc->numtriggers; i++) {
      const Trigger &tg = rel->trigdesc->triggers[i];
      if (tg.tgenabled == TRIGGER_FIRES_ALWAYS && runs_invalidation(tg.tgfoid)) invalidates = true;
    }
    table_close(rel, NoLock);
    if (!OidIsValid(pkey))
      ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("relation apikeys.%s has no primary key", t->name)));
    for (int i = 0; i < kMaxIndexes && t->indexes[i] != nullptr; i++) {
      const char *idx = t->indexes[i];
      t->index[i] = idx[0] == '?' ? get_relname_relid(idx + 1, nsp) : relation_in(nsp, idx);
    }
    for (int i = 0; i < kMaxColumns && t->columns[i] != nullptr; i++) {
      const char *col = t->columns[i];
      bool optional = col[0] == '?';
      if (optional) col++;
      AttrNumber n = get_attnum(relid, col);
      if (n == InvalidAttrNumber && !optional)
        ereport(ERROR,
                (errcode(ERRCODE_UNDEFINED_COLUMN), errmsg("column %s of apikeys.%s does not exist", col, t->name),
                 errhint("The apikeys library and the installed extension do not match: run ALTER "
                         "EXTENSION apikeys UPDATE.")));
      t->att[i] = n;
    }
    t->relid = relid;
    t->pkey = pkey;
    t->invalidates = invalidates;
    t->resolved = true;
  } while (seen != inval_count);
}

void accept_invalidations() {
  if (!IsInParallelMode()) AcceptInvalidationMessages();
}

Snapshot statement_snapshot() { return ActiveSnapshotSet() ? GetActiveSnapshot() : GetTransactionSnapshot(); }

bool cacheable() { return !IsInParallelMode(); }

Snapshot committed_snapshot() {
  return IsolationUsesXactSnapshot() && !IsInParallelMode() ? GetLatestSnapshot() : statement_snapshot();
}

Snapshot fresh_snapshot() { return IsInParallelMode() ? statement_snapshot() : GetLatestSnapshot(); }

IndexScanDesc index_scan_begin(Relation heap, Relation index, Snapshot snapshot, int nkeys) {
#if PG_VERSION_NUM >= 180000
  return index_beginscan(heap, index, snapshot, nullptr, nkeys, 0);  // no instrumentation
#else
  return index_beginscan(heap, index, snapshot, nkeys, 0);
#endif
}

bool probe_begin(Probe *p, Oid relid, Oid indexid, RegProcedure eqproc, Datum value, Snapshot snapshot) {
  p->rel = table_open(relid, AccessShareLock);
  p->idx = index_open(indexid, AccessShareLock);
  ScanKeyData sk;
  ScanKeyInit(&sk, 1, BTEqualStrategyNumber, eqproc, value);
  sk.sk_collation = p->idx->rd_indcollation[0];
  p->scan = index_scan_begin(p->rel, p->idx, snapshot, 1);
  index_rescan(p->scan, &sk, 1, nullptr, 0);
  p->slot = table_slot_create(p->rel, nullptr);
  return index_getnext_slot(p->scan, ForwardScanDirection, p->slot);
}

void probe_end(Probe *p) {
  ExecDropSingleTupleTableSlot(p->slot);
  index_endscan(p->scan);
  index_close(p->idx, NoLock);
  table_close(p->rel, NoLock);
}

}  // namespace apikeys::glue::relcache

namespace {
Datum invalidate_relation(FunctionCallInfo fcinfo) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED), errmsg("must be called as a trigger")));
  CacheInvalidateRelcache(reinterpret_cast<TriggerData *>(fcinfo->context)->tg_relation);
  PG_RETURN_POINTER(nullptr);
}
}  // namespace

// Trigger (per row, which logical replication's apply worker fires too, and per statement for
// TRUNCATE) of a table whose rows backends cache: invalidates the table's relcache
// entry in every backend when the change commits (on hot standbys through the commit
// record), which starts a new generation of every cache of its rows.
APIKEYS_FUNCTION(apikeys_relation_changed) { return invalidate_relation(fcinfo); }

// 1.0's name for it (apikeys._signing_keys_changed), kept for databases not yet updated.
APIKEYS_FUNCTION(apikeys_signing_keys_changed) { return invalidate_relation(fcinfo); }
