// The permission grammar and matching for SQL: apikeys._invalid_permission,
// apikeys._uncovered_permission and apikeys.permission_covers.
#include "permissions.hpp"

extern "C" {
#include "utils/builtins.h"
}

namespace core = apikeys::core;
using apikeys::glue::text_array_views;
using apikeys::glue::text_view;

namespace {
// The text of a permission for a message: NULL elements show as "NULL".
Datum permission_text(std::string_view p) {
  return p.data() ? PointerGetDatum(cstring_to_text_with_len(p.data(), static_cast<int>(p.size())))
                  : CStringGetTextDatum("NULL");
}
}  // namespace

bool apikeys::glue::covers_all(ArrayType *granted, ArrayType *required) {
  int ng, nr;
  std::string_view *g = text_array_views(granted, &ng);
  std::string_view *r = text_array_views(required, &nr);
  for (int i = 0; i < nr; i++)
    if (r[i].data() == nullptr || !core::any_covers(g, ng, r[i])) return false;
  return true;
}

// First element of a text[] that breaks the permission grammar, or NULL.
APIKEYS_FUNCTION(apikeys_invalid_permission) {
  if (PG_ARGISNULL(0)) PG_RETURN_TEXT_P(cstring_to_text("NULL"));
  int n;
  std::string_view *perms = text_array_views(PG_GETARG_ARRAYTYPE_P(0), &n);
  for (int i = 0; i < n; i++)
    if (perms[i].data() == nullptr || !core::valid_permission(perms[i])) PG_RETURN_DATUM(permission_text(perms[i]));
  PG_RETURN_NULL();
}

// First element of perms that no element of ceiling covers, or NULL.
APIKEYS_FUNCTION(apikeys_uncovered_permission) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  int n, nceiling = 0;
  std::string_view *perms = text_array_views(PG_GETARG_ARRAYTYPE_P(0), &n);
  std::string_view *ceiling = PG_ARGISNULL(1) ? nullptr : text_array_views(PG_GETARG_ARRAYTYPE_P(1), &nceiling);
  for (int i = 0; i < n; i++)
    if (perms[i].data() == nullptr || !core::any_covers(ceiling, nceiling, perms[i]))
      PG_RETURN_DATUM(permission_text(perms[i]));
  PG_RETURN_NULL();
}

// True if the granted permissions cover the required one.
APIKEYS_FUNCTION(apikeys_permission_covers) {
  int n;
  std::string_view *granted = text_array_views(PG_GETARG_ARRAYTYPE_P(0), &n);
  PG_RETURN_BOOL(core::any_covers(granted, n, text_view(PG_GETARG_DATUM(1))));
}
