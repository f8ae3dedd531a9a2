// Inserts, row locks and counts without a planned statement.
#include "writes.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_relation.h"
#include "rewrite/rewriteHandler.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

namespace apikeys::glue {

namespace {

// The planned default expressions of a table's columns, kept until the table changes.
struct Defaults {
  relcache::Table *table;
  uint64 generation;
  MemoryContext cxt;
  ExprState *state[kMaxRowColumns];  // evaluated afresh for every row (a per-row context)
};
Defaults defaults[8];
int ndefaults = 0;

Defaults *defaults_of(relcache::Table *t, Relation rel) {
  Defaults *d = nullptr;
  for (int i = 0; i < ndefaults; i++)
    if (defaults[i].table == t) d = &defaults[i];
  if (d == nullptr) {
    if (ndefaults == 8) elog(ERROR, "apikeys: too many tables written");
    d = &defaults[ndefaults++];
    d->table = t;
    d->cxt = AllocSetContextCreate(TopMemoryContext, "apikeys column defaults", ALLOCSET_SMALL_SIZES);
    d->generation = ~t->generation;
  }
  if (d->generation != t->generation) {
    MemoryContextReset(d->cxt);
    MemoryContext old = MemoryContextSwitchTo(d->cxt);
    TupleDesc desc = RelationGetDescr(rel);
    for (int i = 0; i < desc->natts; i++) {
      Form_pg_attribute att = TupleDescAttr(desc, i);
      d->state[i] = nullptr;
      if (att->attisdropped || att->attgenerated) continue;
      auto *def = reinterpret_cast<Expr *>(build_column_default(rel, i + 1));
      if (def != nullptr) d->state[i] = ExecInitExpr(expression_planner(def), nullptr);
    }
    MemoryContextSwitchTo(old);
    d->generation = t->generation;
  }
  return d;
}

}  // namespace

void insert_row(relcache::Table *t, NewRow *row) {
  // As an INSERT statement is refused (25006) in a read-only transaction and on a standby.
  PreventCommandIfReadOnly(psprintf("INSERT INTO apikeys.%s", t->name));
  relcache::resolve(t);
  MemoryContext caller = CurrentMemoryContext;
  Relation rel = table_open(t->relid, RowExclusiveLock);
  // The row is written as the table's owner writes it (as PostgreSQL's foreign-key triggers
  // act as the referenced table's owner): the column defaults' functions and the table's own
  // triggers run with the owner's rights, whoever made the change that records it. An error
  // restores the user at the abort of the (sub)transaction.
  Oid save_user;
  int save_sec;
  GetUserIdAndSecContext(&save_user, &save_sec);
  SetUserIdAndSecContext(rel->rd_rel->relowner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
  TupleDesc desc = RelationGetDescr(rel);
  if (desc->natts > kMaxRowColumns) elog(ERROR, "apikeys: table %s has too many columns", t->name);

  EState *estate = CreateExecutorState();
  RangeTblEntry *rte = makeNode(RangeTblEntry);
  rte->rtekind = RTE_RELATION;
  rte->relid = t->relid;
  rte->relkind = rel->rd_rel->relkind;
  rte->rellockmode = RowExclusiveLock;
#if PG_VERSION_NUM >= 160000
  List *perminfos = NIL;
  addRTEPermissionInfo(&perminfos, rte);
#if PG_VERSION_NUM >= 180000
  ExecInitRangeTable(estate, list_make1(rte), perminfos, bms_make_singleton(1));
#else
  ExecInitRangeTable(estate, list_make1(rte), perminfos);
#endif
#else
  ExecInitRangeTable(estate, list_make1(rte));
#endif
  ResultRelInfo *rri = makeNode(ResultRelInfo);
  InitResultRelInfo(rri, rel, 1, nullptr, 0);
  estate->es_opened_result_relations = lappend(estate->es_opened_result_relations, rri);
  estate->es_output_cid = GetCurrentCommandId(true);
  ExecOpenIndices(rri, false);

  Defaults *defs = defaults_of(t, rel);
  MemoryContext query = MemoryContextSwitchTo(estate->es_query_cxt);
  TupleTableSlot *slot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);
  ExecClearTuple(slot);
  ExprContext *econtext = GetPerTupleExprContext(estate);
  for (int i = 0; i < desc->natts; i++) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    slot->tts_values[i] = (Datum)0;
    slot->tts_isnull[i] = true;
    if (att->attisdropped || att->attgenerated) continue;
    if (row->given[i]) {
      slot->tts_values[i] = row->v[i];
      slot->tts_isnull[i] = row->n[i];
      continue;
    }
    // The column's default, as INSERT evaluates it.
    if (defs->state[i] == nullptr) continue;
    slot->tts_values[i] = ExecEvalExpr(defs->state[i], econtext, &slot->tts_isnull[i]);
  }
  ExecStoreVirtualTuple(slot);
  MemoryContextSwitchTo(query);

  AfterTriggerBeginQuery();
  ExecSimpleRelationInsert(rri, estate, slot);
  // The row as written (BEFORE triggers may have changed it), in the caller's memory.
  slot_getallattrs(slot);
  MemoryContextSwitchTo(caller);
  for (int i = 0; i < desc->natts; i++) {
    Form_pg_attribute att = TupleDescAttr(desc, i);
    row->n[i] = slot->tts_isnull[i];
    row->v[i] = row->n[i] ? (Datum)0 : datumCopy(slot->tts_values[i], att->attbyval, att->attlen);
  }
  AfterTriggerEndQuery(estate);
  ExecCloseIndices(rri);
  ExecResetTupleTable(estate->es_tupleTable, false);
  FreeExecutorState(estate);
  table_close(rel, NoLock);
  SetUserIdAndSecContext(save_user, save_sec);
}

LockedRow lock_row(relcache::Table *t, RegProcedure eq, Datum key, LockTupleMode mode, const int *columns,
                   int ncolumns) {
  relcache::resolve(t);
  LockedRow out;
  Relation rel = table_open(t->relid, RowShareLock);
  CommandCounterIncrement();  // as a statement run from a trigger would
  Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
  relcache::Probe p;
  bool found = relcache::probe_begin(&p, t->relid, t->pkey, eq, key, snapshot);
  if (found) {
    TupleTableSlot *locked = table_slot_create(rel, nullptr);
    TM_FailureData tmfd;
    int flags = IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION;
    TM_Result r = table_tuple_lock(rel, &p.slot->tts_tid, snapshot, locked, GetCurrentCommandId(false), mode,
                                   LockWaitBlock, flags, &tmfd);
    switch (r) {
      case TM_Ok:
        out.found = true;
        for (int i = 0; i < ncolumns && i < 8; i++) {
          AttrNumber a = t->att[columns[i]];
          Datum d = slot_getattr(locked, a, &out.n[i]);
          Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), a - 1);
          out.v[i] = out.n[i] ? (Datum)0 : datumCopy(d, att->attbyval, att->attlen);
        }
        break;
      case TM_SelfModified:
        // Changed by a later command of this transaction: as for SELECT ... FOR UPDATE, the
        // row is not returned.
        break;
      case TM_Updated:
      case TM_Deleted:
        if (IsolationUsesXactSnapshot())
          ereport(ERROR, (errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
                          errmsg("could not serialize access due to concurrent update")));
        if (r == TM_Updated)
          elog(ERROR, "apikeys: unexpected result %d locking a row of %s", static_cast<int>(r), t->name);
        break;  // deleted meanwhile: not found
      default:
        elog(ERROR, "apikeys: unexpected result %d locking a row of %s", static_cast<int>(r), t->name);
    }
    ExecDropSingleTupleTableSlot(locked);
  }
  relcache::probe_end(&p);
  UnregisterSnapshot(snapshot);
  table_close(rel, NoLock);
  return out;
}

void count_begin(IndexCount *c, Oid relid, Oid indexid, int nkeys, const RegProcedure *eq, const Datum *values) {
  c->rel = table_open(relid, AccessShareLock);
  c->idx = index_open(indexid, AccessShareLock);
  ScanKeyData keys[4];
  if (nkeys > 4) elog(ERROR, "apikeys: too many scan keys");
  for (int i = 0; i < nkeys; i++) {
    ScanKeyInit(&keys[i], static_cast<AttrNumber>(i + 1), BTEqualStrategyNumber, eq[i], values[i]);
    keys[i].sk_collation = c->idx->rd_indcollation[i];
  }
  // As a statement run from a trigger would: this command's own writes are counted.
  CommandCounterIncrement();
  c->snapshot = RegisterSnapshot(GetLatestSnapshot());
  c->scan = relcache::index_scan_begin(c->rel, c->idx, c->snapshot, nkeys);
  index_rescan(c->scan, keys, nkeys, nullptr, 0);
  c->slot = table_slot_create(c->rel, nullptr);
}

bool count_next(IndexCount *c) {
  CHECK_FOR_INTERRUPTS();
  return index_getnext_slot(c->scan, ForwardScanDirection, c->slot);
}

void count_end(IndexCount *c) {
  ExecDropSingleTupleTableSlot(c->slot);
  index_endscan(c->scan);
  UnregisterSnapshot(c->snapshot);
  index_close(c->idx, NoLock);
  table_close(c->rel, NoLock);
}

}  // namespace apikeys::glue
