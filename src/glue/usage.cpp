// Usage metering and rate limits: shared memory, counting, the limiter, and the SQL functions
// that read them.
#include "usage.hpp"

extern "C" {
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
}

namespace {
bool preloaded = false;
}  // namespace

namespace apikeys::glue {

bool usage_available() { return preloaded; }

void check_rate_limit(const char *what, const char *name, Datum limit, bool limit_null, Datum window,
                      bool window_null) {
  if (limit_null && window_null) return;
  if (limit_null)
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
             errmsg("%s \"%s\" has a rate_window but no rate_limit", what, name), errhint("Give both, or neither.")));
  if (DatumGetInt32(limit) <= 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("rate_limit of %s \"%s\" must be positive (got %d)", what, name, DatumGetInt32(limit)),
                    errhint("Use a positive number of answers per rate_window, or NULL for no limit.")));
  static Interval zero = {0, 0, 0};
  if (window_null || DatumGetBool(DirectFunctionCall2(interval_le, window, IntervalPGetDatum(&zero))))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("%s \"%s\" has a rate_limit but no positive rate_window", what, name),
                    errhint("Give the window the limit counts in, e.g. rate_window => '1 minute'.")));
  if (!preloaded)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("rate limits need the apikeys library in shared_preload_libraries"),
                    errhint("Add apikeys to shared_preload_libraries in postgresql.conf and restart the server; rate "
                            "limits live in shared memory.")));
}

void usage_init() { preloaded = process_shared_preload_libraries_in_progress; }

}  // namespace apikeys::glue

// apikeys._check_rate_limit(what, name, rate_limit, rate_window): check_rate_limit for the
// tenants' and key sets' triggers.
APIKEYS_FUNCTION(apikeys_check_rate_limit) {
  apikeys::glue::check_rate_limit(text_to_cstring(PG_GETARG_TEXT_PP(0)),
                                  PG_ARGISNULL(1) ? "<NULL>" : text_to_cstring(PG_GETARG_TEXT_PP(1)),
                                  PG_GETARG_DATUM(2), PG_ARGISNULL(2), PG_GETARG_DATUM(3), PG_ARGISNULL(3));
  PG_RETURN_VOID();
}
