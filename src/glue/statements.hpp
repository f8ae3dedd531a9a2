// SQL statements that C code runs through SPI: prepared once per backend and kept, with
// fully qualified names (so the caller's search_path never matters).
#pragma once

#include "boundary.hpp"

extern "C" {
#include "executor/spi.h"
}

namespace apikeys::glue {

constexpr int kMaxStatementArgs = 16;

struct Statement {
  const char *sql;
  int nargs;
  Oid types[kMaxStatementArgs];  // a row is passed as RECORDOID (its datum names its type)
  SPIPlanPtr plan;               // prepared on first use
};

// How a statement sees the data: the statement's snapshot (as a PL/pgSQL statement in a
// volatile function does), or the latest one (every committed row: the limit counts).
enum class Snap { Current, Latest };

// Runs the statement (SPI_connect must be active) with args; nulls[i] marks a NULL.
// Returns SPI's result code; the rows are in SPI_tuptable.
int run(Statement *s, const Datum *args, const bool *nulls, bool read_only, Snap snap = Snap::Current, long limit = 0);

}  // namespace apikeys::glue
