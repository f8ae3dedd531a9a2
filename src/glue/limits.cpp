// Counts for the limit checks: run after the parent row is locked, under the latest snapshot
// (every committed row), so two racing transactions can never both pass a limit; correct
// under REPEATABLE READ and SERIALIZABLE too.
#include "limits.hpp"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/snapmgr.h"
}

namespace {

// Runs a count(*) query under the latest snapshot.
int64 fresh_count(SPIPlanPtr *cache, const char *sql, int nargs, Oid *types, Datum *values) {
  SPI_connect();
  if (*cache == nullptr) {
    SPIPlanPtr plan = SPI_prepare(sql, nargs, types);
    if (plan == nullptr) elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    SPI_keepplan(plan);
    *cache = plan;
  }
  int rc = SPI_execute_snapshot(*cache, values, nullptr, GetLatestSnapshot(), InvalidSnapshot, false, false, 1);
  if (rc != SPI_OK_SELECT || SPI_processed != 1) elog(ERROR, "count query failed: %s", SPI_result_code_string(rc));
  bool isnull;
  int64 n = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
  SPI_finish();
  return n;
}

}  // namespace

namespace apikeys::glue {

int64 count_key_sets(Datum tenant_id) {
  static SPIPlanPtr plan = nullptr;
  Oid types[1] = {TEXTOID};
  Datum values[1] = {tenant_id};
  return fresh_count(&plan,
                     "SELECT pg_catalog.count(*) FROM apikeys.key_sets "
                     "WHERE tenant_id OPERATOR(pg_catalog.=) $1",
                     1, types, values);
}

int64 count_active_keys(int64 key_set_id) {
  static SPIPlanPtr plan = nullptr;
  Oid types[1] = {INT8OID};
  Datum values[1] = {Int64GetDatum(key_set_id)};
  return fresh_count(&plan,
                     "SELECT pg_catalog.count(*) FROM apikeys.keys "
                     "WHERE key_set_id OPERATOR(pg_catalog.=) $1 "
                     "AND apikeys._counts_in_set(status, expires_at)",
                     1, types, values);
}

int64 count_live_keys(Datum tenant_id, Datum owner) {
  static SPIPlanPtr plan = nullptr;
  Oid types[2] = {TEXTOID, TEXTOID};
  Datum values[2] = {tenant_id, owner};
  return fresh_count(&plan,
                     "SELECT pg_catalog.count(*) FROM apikeys.keys "
                     "WHERE tenant_id OPERATOR(pg_catalog.=) $1 AND owner OPERATOR(pg_catalog.=) $2 "
                     "AND apikeys._live(status, expires_at)",
                     2, types, values);
}

}  // namespace apikeys::glue

APIKEYS_FUNCTION(apikeys_count_key_sets) { PG_RETURN_INT64(apikeys::glue::count_key_sets(PG_GETARG_DATUM(0))); }

APIKEYS_FUNCTION(apikeys_count_active_keys) { PG_RETURN_INT64(apikeys::glue::count_active_keys(PG_GETARG_INT64(0))); }

APIKEYS_FUNCTION(apikeys_count_live_keys) {
  PG_RETURN_INT64(apikeys::glue::count_live_keys(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)));
}
