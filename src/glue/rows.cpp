// Rows, trigger checks and values for messages.
#include "rows.hpp"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_collation.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"
}

namespace apikeys::glue {

Row::Row(HeapTuple tuple, TupleDesc desc) : desc_(desc) {
  v_ = static_cast<Datum *>(palloc(desc->natts * sizeof(Datum)));
  n_ = static_cast<bool *>(palloc(desc->natts * sizeof(bool)));
  heap_deform_tuple(tuple, desc, v_, n_);
}

std::string_view Row::text(AttrNumber a) const { return null(a) ? std::string_view() : text_view(get(a)); }

void Row::set(AttrNumber a, Datum value, bool isnull) {
  v_[a - 1] = isnull ? (Datum)0 : value;
  n_[a - 1] = isnull;
}

HeapTuple Row::form() const { return heap_form_tuple(desc_, v_, n_); }

Datum Row::as_datum() const { return heap_copy_tuple_as_datum(form(), desc_); }

TriggerData *row_trigger(FunctionCallInfo fcinfo, const char *function, bool before) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    ereport(ERROR,
            (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED), errmsg("%s must be called as a trigger", function)));
  auto *td = reinterpret_cast<TriggerData *>(fcinfo->context);
  if (!TRIGGER_FIRED_FOR_ROW(td->tg_event) || TRIGGER_FIRED_BEFORE(td->tg_event) != before)
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("%s must run %s ... FOR EACH ROW", function, before ? "BEFORE" : "AFTER")));
  return td;
}

const char *show(Datum value, bool isnull, Oid type) {
  if (isnull) return "<NULL>";
  Oid out;
  bool varlena;
  getTypeOutputInfo(type, &out, &varlena);
  return OidOutputFunctionCall(out, value);
}

bool same(Datum a, bool a_null, Datum b, bool b_null, Oid type) {
  if (a_null || b_null) return a_null == b_null;
  TypeCacheEntry *tc = lookup_type_cache(type, TYPECACHE_EQ_OPR_FINFO);
  if (!OidIsValid(tc->eq_opr_finfo.fn_oid))
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION), errmsg("no equality for type %u", type)));
  return DatumGetBool(FunctionCall2Coll(&tc->eq_opr_finfo, DEFAULT_COLLATION_OID, a, b));
}

}  // namespace apikeys::glue
