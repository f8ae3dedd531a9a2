// Rows as C triggers read and change them, and values as messages show them.
#pragma once

#include "boundary.hpp"

extern "C" {
#include "access/htup.h"
#include "access/tupdesc.h"
#include "commands/trigger.h"
}

namespace apikeys::glue {

// A row deformed into values and nulls (palloc'd), read and set by attribute number.
class Row {
 public:
  Row(HeapTuple tuple, TupleDesc desc);
  bool null(AttrNumber a) const { return n_[a - 1]; }
  Datum get(AttrNumber a) const { return v_[a - 1]; }
  // The column as text (a view), or an empty view with a null data() for NULL.
  std::string_view text(AttrNumber a) const;
  void set(AttrNumber a, Datum value, bool isnull = false);
  void copy_from(const Row &other, AttrNumber a) { set(a, other.get(a), other.null(a)); }
  // The changed row as a new tuple.
  HeapTuple form() const;
  // The row as a composite Datum (for to_jsonb and friends).
  Datum as_datum() const;

 private:
  TupleDesc desc_;
  Datum *v_;
  bool *n_;
};

// The trigger's data, checked against how the trigger must be created (timing BEFORE or
// AFTER, FOR EACH ROW); raises otherwise.
TriggerData *row_trigger(FunctionCallInfo fcinfo, const char *function, bool before);

// A value as PL/pgSQL's RAISE shows a parameter: its type's output, or <NULL>.
const char *show(Datum value, bool isnull, Oid type);

// True if two values of a type are the same (IS NOT DISTINCT FROM, by the type's equality).
bool same(Datum a, bool a_null, Datum b, bool b_null, Oid type);

}  // namespace apikeys::glue
