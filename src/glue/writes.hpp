// Writes and row locks that C code makes without planning a statement: an insert as an
// INSERT would make it (column defaults, BEFORE and AFTER ROW triggers, constraints, every
// index), a row locked as SELECT ... FOR <mode> would lock it, and counts of index entries.
// They do not check table privileges: the callers are the extension's own triggers and
// SECURITY DEFINER functions; an insert runs as the table's owner (its defaults and
// triggers with the owner's rights).
#pragma once

#include "relcache.hpp"

extern "C" {
#include "nodes/lockoptions.h"
}

namespace apikeys::glue {

constexpr int kMaxRowColumns = 64;

// The values of a row by attribute number; unset columns get their defaults.
struct NewRow {
  Datum v[kMaxRowColumns];
  bool n[kMaxRowColumns];
  bool given[kMaxRowColumns];
  NewRow() {
    for (int i = 0; i < kMaxRowColumns; i++) {
      v[i] = 0;
      n[i] = true;
      given[i] = false;
    }
  }
  void set(AttrNumber a, Datum value, bool isnull = false) {
    if (a < 1 || a > kMaxRowColumns) elog(ERROR, "apikeys: no column %d to set", a);
    v[a - 1] = value;
    n[a - 1] = isnull;
    given[a - 1] = true;
  }
};

// Inserts the row (its table's AFTER triggers fire before this returns); afterwards row
// holds the values as written (defaults and BEFORE triggers applied).
void insert_row(relcache::Table *t, NewRow *row);

// The result of locking a row: found, and the columns asked for (copied).
struct LockedRow {
  bool found = false;
  Datum v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  bool n[8] = {true, true, true, true, true, true, true, true};
};

// Finds a row by its primary key and locks it in mode, as SELECT ... FOR <mode> does: it
// waits for a concurrent writer; under READ COMMITTED it locks the row's latest version (a
// deleted row is not found); under REPEATABLE READ and SERIALIZABLE a row changed since the
// transaction's snapshot is a serialization failure (40001). columns (relcache indexes of
// t->att) are copied into the result.
LockedRow lock_row(relcache::Table *t, RegProcedure eq, Datum key, LockTupleMode mode, const int *columns,
                   int ncolumns);

// Counts the rows an index scan finds under the latest snapshot (every committed row, and
// this transaction's own, this command's included) for which accept(slot) is true: equality
// on the index's first nkeys columns.
template <typename F>
int64 count_latest(Oid relid, Oid indexid, int nkeys, const RegProcedure *eq, const Datum *values, F &&accept);

// ---- implementation ----------------------------------------------------------------------

struct IndexCount {
  Relation rel, idx;
  Snapshot snapshot;
  IndexScanDesc scan;
  TupleTableSlot *slot;
};
void count_begin(IndexCount *c, Oid relid, Oid indexid, int nkeys, const RegProcedure *eq, const Datum *values);
bool count_next(IndexCount *c);
void count_end(IndexCount *c);

template <typename F>
int64 count_latest(Oid relid, Oid indexid, int nkeys, const RegProcedure *eq, const Datum *values, F &&accept) {
  IndexCount c;
  count_begin(&c, relid, indexid, nkeys, eq, values);
  int64 n = 0;
  while (count_next(&c))
    if (accept(c.slot)) n++;
  count_end(&c);
  return n;
}

}  // namespace apikeys::glue
