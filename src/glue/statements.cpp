// Kept SPI plans.
#include "statements.hpp"

extern "C" {
#include "utils/snapmgr.h"
}

namespace apikeys::glue {

int run(Statement *s, const Datum *args, const bool *nulls, bool read_only, Snap snap, long limit) {
  if (s->plan == nullptr) {
    SPIPlanPtr plan = SPI_prepare(s->sql, s->nargs, s->types);
    if (plan == nullptr) elog(ERROR, "apikeys: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    SPI_keepplan(plan);
    s->plan = plan;
  }
  char n[kMaxStatementArgs + 1];
  for (int i = 0; i < s->nargs; i++) n[i] = nulls != nullptr && nulls[i] ? 'n' : ' ';
  n[s->nargs] = '\0';
  if (snap == Snap::Latest)
    return SPI_execute_snapshot(s->plan, const_cast<Datum *>(args), n, GetLatestSnapshot(), InvalidSnapshot, read_only,
                                !read_only, limit);
  return SPI_execute_plan(s->plan, const_cast<Datum *>(args), n, read_only, limit);
}

}  // namespace apikeys::glue
