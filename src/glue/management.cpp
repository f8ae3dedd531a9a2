// The management functions that hand out a plaintext key, in C: apikeys.create_key and
// apikeys.roll_key. The plaintext is made here and returned as the result row; it is never
// a parameter or a constant of any SQL statement (so no plan, audit log or bind-parameter
// log can show it): the statements they run carry only the hash and the hint.
#include "management.hpp"

#include <openssl/crypto.h>

#include "keys.hpp"
#include "relcache.hpp"
#include "rows.hpp"
#include "statements.hpp"
#include "tables.hpp"
#include "writes.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
}

namespace core = apikeys::core;
namespace relcache = apikeys::glue::relcache;
using apikeys::glue::CoreFailure;
using apikeys::glue::outbox;
using apikeys::glue::show;
using apikeys::glue::Statement;
using namespace apikeys::glue::tables;

namespace {

// Returns one (key_id, client_id, key) row from a RETURNS TABLE function, then wipes the
// plaintext's copies.
Datum return_key(FunctionCallInfo fcinfo, int64 key_id, text *client_id, text *key) {
  InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
  auto *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
  Datum values[3] = {Int64GetDatum(key_id), PointerGetDatum(client_id), PointerGetDatum(key)};
  bool nulls[3] = {false, false, false};
  tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
  explicit_bzero(VARDATA(key), VARSIZE(key) - VARHDRSZ);
  outbox().clear();
  return (Datum)0;
}

Interval zero_interval = {0, 0, 0};

bool interval_le_zero(Datum interval) {
  return DatumGetBool(DirectFunctionCall2(interval_le, interval, IntervalPGetDatum(&zero_interval)));
}

bool interval_lt_zero(Datum interval) {
  return DatumGetBool(DirectFunctionCall2(interval_lt, interval, IntervalPGetDatum(&zero_interval)));
}

Statement lock_key = {
    "SELECT key_id, client_id, name, status FROM apikeys.keys WHERE key_id OPERATOR(pg_catalog.=) $1 "
    "FOR NO KEY UPDATE",
    1,
    {INT8OID}};

Statement roll = {
    "UPDATE apikeys.keys SET "
    "previous_hash = CASE WHEN $2 OPERATOR(pg_catalog.>) '0'::pg_catalog.interval THEN key_hash END, "
    "previous_hash_scheme = CASE WHEN $2 OPERATOR(pg_catalog.>) '0'::pg_catalog.interval THEN hash_scheme END, "
    "previous_expires_at = CASE WHEN $2 OPERATOR(pg_catalog.>) '0'::pg_catalog.interval "
    "THEN LEAST(pg_catalog.now() OPERATOR(pg_catalog.+) $2, expires_at) END, "
    "key_hash = $3, hash_scheme = $4, hint = $5 WHERE key_id OPERATOR(pg_catalog.=) $1",
    5,
    {INT8OID, INTERVALOID, BYTEAOID, TEXTOID, TEXTOID}};

}  // namespace

// apikeys.create_key(tenant_id, name, owner, permissions, expires_in, key_set_id,
// description): the key's row through the same INSERT (and triggers) a DBA's would take.
APIKEYS_FUNCTION(apikeys_create_key) {
  relcache::resolve(&tenants);
  relcache::resolve(&key_sets);
  relcache::resolve(&keys);
  // The tenant and its key prefix.
  Datum tenant_arg = PG_ARGISNULL(0) ? (Datum)0 : PG_GETARG_DATUM(0);
  Datum prefix = (Datum)0, tenant_id = (Datum)0;
  bool found =
      !PG_ARGISNULL(0) &&
      relcache::probe_unique(
          tenants.relid, tenants.pkey, F_TEXTEQ, tenant_arg, GetTransactionSnapshot(), [&](TupleTableSlot *slot) {
            bool isnull;
            tenant_id = datumCopy(slot_getattr(slot, tenants.att[kTenantTenantId], &isnull), false, -1);
            prefix = datumCopy(slot_getattr(slot, tenants.att[kTenantKeyPrefix], &isnull), false, -1);
          });
  if (!found)
    ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND),
                    errmsg("tenant \"%s\" does not exist", show(tenant_arg, PG_ARGISNULL(0), TEXTOID))));
  // The key set, which must be the tenant's.
  Datum set_permissions = (Datum)0;
  bool set_permissions_null = true;
  if (!PG_ARGISNULL(5)) {
    Datum set_tenant = (Datum)0;
    bool set_found = relcache::probe_unique(
        key_sets.relid, key_sets.pkey, F_INT8EQ, PG_GETARG_DATUM(5), GetTransactionSnapshot(),
        [&](TupleTableSlot *slot) {
          bool isnull;
          set_tenant = datumCopy(slot_getattr(slot, key_sets.att[kSetTenantId], &isnull), false, -1);
          Datum p = slot_getattr(slot, key_sets.att[kSetPermissions], &set_permissions_null);
          if (!set_permissions_null) set_permissions = datumCopy(p, false, -1);
        });
    if (!set_found)
      ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND),
                      errmsg("key set %s does not exist", show(PG_GETARG_DATUM(5), false, INT8OID))));
    if (apikeys::glue::text_view(set_tenant) != apikeys::glue::text_view(tenant_id))
      ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND),
                      errmsg("key set %s does not exist in tenant \"%s\"", show(PG_GETARG_DATUM(5), false, INT8OID),
                             show(tenant_id, false, TEXTOID))));
  }
  if (!PG_ARGISNULL(4) && interval_le_zero(PG_GETARG_DATUM(4)))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("expires_in must be a positive interval (got %s)",
                                                                     show(PG_GETARG_DATUM(4), false, INTERVALOID))));

  core::Scheme scheme = apikeys::glue::new_key(text_to_cstring(DatumGetTextPP(prefix)), nullptr);
  text *client_id = apikeys::glue::outbox_text(0);
  text *key = apikeys::glue::outbox_text(1);
  // The row, as a plain INSERT would write it (defaults, triggers, constraints).
  apikeys::glue::NewRow row;
  auto a = [](int column) { return keys.att[column]; };
  row.set(a(kClientId), PointerGetDatum(client_id));
  row.set(a(kTenantId), tenant_id);
  row.set(a(kKeySetId), PG_ARGISNULL(5) ? (Datum)0 : PG_GETARG_DATUM(5), PG_ARGISNULL(5));
  row.set(a(kOwner), PG_ARGISNULL(2) ? (Datum)0 : PG_GETARG_DATUM(2), PG_ARGISNULL(2));
  row.set(a(kName), PG_ARGISNULL(1) ? (Datum)0 : PG_GETARG_DATUM(1), PG_ARGISNULL(1));
  row.set(a(kDescription), PG_ARGISNULL(6) ? (Datum)0 : PG_GETARG_DATUM(6), PG_ARGISNULL(6));
  // permissions: the given ones, else the set's, else none.
  if (!PG_ARGISNULL(3))
    row.set(a(kPermissions), PG_GETARG_DATUM(3));
  else if (!set_permissions_null)
    row.set(a(kPermissions), set_permissions);
  else
    row.set(a(kPermissions), PointerGetDatum(construct_empty_array(TEXTOID)));
  row.set(a(kPermissionsInherited), BoolGetDatum(PG_ARGISNULL(3) && !PG_ARGISNULL(5)));
  row.set(a(kExpiresAt),
          PG_ARGISNULL(4)
              ? (Datum)0
              : DirectFunctionCall2(timestamptz_pl_interval, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
                                    PG_GETARG_DATUM(4)),
          PG_ARGISNULL(4));
  row.set(a(kHint), PointerGetDatum(apikeys::glue::outbox_text(2)));
  row.set(a(kKeyHash), PointerGetDatum(apikeys::glue::outbox_bytea(3)));
  row.set(a(kHashScheme), CStringGetTextDatum(core::scheme_tag(scheme)));
  // Since 1.2: the key's own allowlist and rate limit.
  const int own[3] = {kAllowedIps, kRateLimit, kRateWindow};
  for (int i = 0; i < 3; i++)
    if (PG_NARGS() > 7 + i && !PG_ARGISNULL(7 + i) && a(own[i]) != InvalidAttrNumber)
      row.set(a(own[i]), PG_GETARG_DATUM(7 + i));
  outbox().clear();
  apikeys::glue::insert_row(&keys, &row);
  int64 key_id = DatumGetInt64(row.v[a(kKeyId) - 1]);
  return return_key(fcinfo, key_id, client_id, key);
}

// apikeys.roll_key(key_id, grace): a new secret for the same client id; the old hash keeps
// verifying until now() + grace, never past the key's own expiry.
APIKEYS_FUNCTION(apikeys_roll_key) {
  if (PG_ARGISNULL(1) || interval_lt_zero(PG_GETARG_DATUM(1)))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("grace must be zero or a positive interval (got %s)",
                           PG_ARGISNULL(1) ? "NULL" : show(PG_GETARG_DATUM(1), false, INTERVALOID))));
  if (PG_ARGISNULL(0)) ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("key NULL does not exist")));
  Datum key_id = PG_GETARG_DATUM(0);
  MemoryContext caller = CurrentMemoryContext;  // what must outlive SPI_finish goes here
  SPI_connect();
  int rc = apikeys::glue::run(&lock_key, &key_id, nullptr, false);
  if (rc != SPI_OK_SELECT) elog(ERROR, "apikeys: locking a key failed: %s", SPI_result_code_string(rc));
  if (SPI_processed == 0)
    ereport(ERROR, (errcode(ERRCODE_NO_DATA_FOUND), errmsg("key %s does not exist", show(key_id, false, INT8OID))));
  bool isnull;
  HeapTuple row = SPI_tuptable->vals[0];
  TupleDesc desc = SPI_tuptable->tupdesc;
  char *client_id = TextDatumGetCString(SPI_getbinval(row, desc, 2, &isnull));
  Datum name = SPI_getbinval(row, desc, 3, &isnull);
  bool name_null = isnull;
  Datum status = SPI_getbinval(row, desc, 4, &isnull);
  if (!isnull && apikeys::glue::text_view(status) == "revoked")
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("key %s (\"%s\") is revoked and cannot be rolled", show(key_id, false, INT8OID),
                           show(name, name_null, TEXTOID)),
                    errhint("Revocation is irreversible: create a new key.")));
  core::Scheme scheme = apikeys::glue::new_key(nullptr, client_id);
  MemoryContext spi = MemoryContextSwitchTo(caller);
  text *client = apikeys::glue::outbox_text(0);
  text *key = apikeys::glue::outbox_text(1);
  MemoryContextSwitchTo(spi);
  Datum args[5] = {key_id, PG_GETARG_DATUM(1), PointerGetDatum(apikeys::glue::outbox_bytea(3)),
                   CStringGetTextDatum(core::scheme_tag(scheme)), PointerGetDatum(apikeys::glue::outbox_text(2))};
  outbox().clear();
  rc = apikeys::glue::run(&roll, args, nullptr, false);
  if (rc != SPI_OK_UPDATE || SPI_processed != 1)
    elog(ERROR, "apikeys: rolling a key failed: %s", SPI_result_code_string(rc));
  SPI_finish();
  return return_key(fcinfo, DatumGetInt64(key_id), client, key);
}
