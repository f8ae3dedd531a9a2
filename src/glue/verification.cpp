// The apikeys.verification row.
#include "verification.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/typcache.h"
}

// Its descriptor comes from the type cache (a hash lookup, pinned for this call): a
// descriptor cached in fn_extra would be rebuilt with get_call_result_type (a pg_proc lookup
// and a copy) at every execution, since each execution has a new FmgrInfo, and verify is
// usually called once per statement.
Datum apikeys::glue::verification_datum(FunctionCallInfo fcinfo, const Verdict &r) {
  Oid type = get_fn_expr_rettype(fcinfo->flinfo);
  TupleDesc desc;
  bool pinned = OidIsValid(type) && type != RECORDOID;
  if (pinned) {
    desc = lookup_rowtype_tupdesc(type, -1);
  } else {
    desc = static_cast<TupleDesc>(fcinfo->flinfo->fn_extra);
    if (desc == nullptr) {
      TupleDesc d;
      if (get_call_result_type(fcinfo, nullptr, &d) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "return type must be a row type");
      MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
      desc = BlessTupleDesc(CreateTupleDescCopy(d));
      MemoryContextSwitchTo(old);
      fcinfo->flinfo->fn_extra = desc;
    }
  }
  bool valid = r.valid();
  Datum values[8] = {BoolGetDatum(valid), CStringGetTextDatum(core::code_text(r.code))};
  bool nulls[8] = {false, false, true, true, true, true, true, true};
  if (valid) {
    values[2] = Int64GetDatum(r.key_id);
    values[3] = PointerGetDatum(r.tenant_id);
    values[4] = PointerGetDatum(r.owner);
    values[5] = Int64GetDatum(r.key_set_id);
    values[6] = PointerGetDatum(r.permissions);
    values[7] = TimestampTzGetDatum(r.expires_at);
    nulls[2] = nulls[3] = nulls[6] = false;
    nulls[4] = r.owner == nullptr;
    nulls[5] = !r.has_set;
    nulls[7] = !r.has_expiry;
  }
  HeapTuple tuple = heap_form_tuple(desc, values, nulls);
  if (pinned) ReleaseTupleDesc(desc);
  return HeapTupleGetDatum(tuple);
}
