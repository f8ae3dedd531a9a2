// The extension's tables as a backend caches them, and the one rule every cache of their
// rows follows. A Table names a relation and its columns; resolve() finds the OIDs and
// column numbers once, and again after any relcache invalidation of the table. A table
// whose changes must reach every backend at once carries an ALWAYS-enabled statement
// trigger running apikeys_relation_changed (defined here): at commit it invalidates the
// table's relcache entry in every backend (and on hot standbys through the commit record),
// which bumps the table's generation, so a cache built under an older generation is stale.
//
// Reading for a cache: accept_invalidations() first, then read with fresh_snapshot():
// the latest one (every committed change, also inside a REPEATABLE READ transaction) outside
// parallel mode; inside it, where no latest snapshot may be taken, the statement's own, and
// what is read then must not be kept.
#pragma once

#include "boundary.hpp"

extern "C" {
#include "access/attnum.h"
#include "access/genam.h"
#include "executor/tuptable.h"
#include "utils/rel.h"
#include "utils/snapshot.h"
}

namespace apikeys::glue::relcache {

constexpr int kMaxColumns = 40;
constexpr int kMaxIndexes = 5;

struct Table {
  // Set by the module that reads the table (static storage).
  const char *name;                  // in schema apikeys
  const char *columns[kMaxColumns];  // nullptr-terminated; a leading '?' marks a column that
                                     // an older schema may lack (its number is then 0)
  const char *indexes[kMaxIndexes];  // indexes found by name, nullptr-terminated; a leading '?'
                                     // marks one an older schema may lack (InvalidOid then)
  // Filled by resolve().
  bool resolved;
  bool invalidates;  // carries the ALWAYS-enabled invalidation trigger
  Oid relid;
  Oid pkey;  // primary key index
  Oid index[kMaxIndexes];
  AttrNumber att[kMaxColumns];
  uint64 generation;  // bumped by every invalidation of the table
};

// Makes the table known to the invalidation callback; from a module's init (_PG_init).
void watch(Table *t);
// From _PG_init: registers the one relcache callback.
void init();

// Finds OIDs and column numbers unless they are current; raises if the table, its primary
// key, a named index or a required column is missing.
void resolve(Table *t);

// Processes the invalidation messages that arrived, so a change committed elsewhere is seen.
void accept_invalidations();

// False in parallel mode: read with the statement's snapshot there, and keep nothing.
bool cacheable();
// The snapshot to fill a cache with (take it only on a miss: it costs a ProcArray scan): the
// latest one, or in parallel mode the statement's.
Snapshot fresh_snapshot();

// The statement's snapshot (or the transaction's outside a statement).
Snapshot statement_snapshot();

// The snapshot that reads a key's state as last committed, so that a revocation committed
// after a REPEATABLE READ or SERIALIZABLE transaction began is seen inside it: there the
// latest snapshot (a ProcArray scan, or the cached one when nothing committed since); in READ
// COMMITTED the statement's, which is already as new as the statement; in parallel mode,
// where no new snapshot may be taken, the statement's.
Snapshot committed_snapshot();

// index_beginscan for nkeys keys and no ORDER BY keys (PostgreSQL 18 added an argument).
IndexScanDesc index_scan_begin(Relation heap, Relation index, Snapshot snapshot, int nkeys);

// Probes a unique index for one value under snapshot and hands the row, if any, to on_row
// while its buffer is pinned. The locks are kept until the end of the transaction, as the
// executor keeps its own.
template <typename F>
bool probe_unique(Oid relid, Oid indexid, RegProcedure eqproc, Datum value, Snapshot snapshot, F &&on_row);

// ---- implementation ----------------------------------------------------------------------

struct Probe {
  Relation rel, idx;
  IndexScanDesc scan;
  TupleTableSlot *slot;
};
// Starts the probe; true if a row was found (then in probe->slot).
bool probe_begin(Probe *p, Oid relid, Oid indexid, RegProcedure eqproc, Datum value, Snapshot snapshot);
void probe_end(Probe *p);

template <typename F>
bool probe_unique(Oid relid, Oid indexid, RegProcedure eqproc, Datum value, Snapshot snapshot, F &&on_row) {
  Probe p;
  bool found = probe_begin(&p, relid, indexid, eqproc, value, snapshot);
  if (found) on_row(p.slot);
  probe_end(&p);
  return found;
}

}  // namespace apikeys::glue::relcache
