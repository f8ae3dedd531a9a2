// Events: apikeys._actor, apikeys._allow_event_purge / _event_purge_allowed and
// apikeys._event_payload.
#include "events.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/json.h"
}

namespace {

char *actor_value = nullptr;
bool event_purge_allowed = false;
SubTransactionId event_purge_subid = InvalidSubTransactionId;  // where purge() set the flag

void xact_callback(XactEvent event, void *) noexcept {
  if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
      event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
    event_purge_allowed = false;
}

// An error inside purge() caught by a savepoint must not leave event deletes allowed.
void subxact_callback(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *) noexcept {
  if (!event_purge_allowed || sub != event_purge_subid) return;
  if (event == SUBXACT_EVENT_ABORT_SUB)
    event_purge_allowed = false;
  else if (event == SUBXACT_EVENT_COMMIT_SUB)
    event_purge_subid = parent;
}

// Appends "name" : value to a JSON object under construction, as json_build_object does.
void json_key(StringInfo out, const char *name, bool first) {
  if (!first) appendStringInfoString(out, ", ");
  escape_json(out, name);
  appendStringInfoString(out, " : ");
}

// "name" : a text cut to 500 characters as a JSON string, or null.
void json_cut_text(StringInfo out, const char *name, Datum d, bool isnull) {
  json_key(out, name, false);
  if (isnull) {
    appendStringInfoString(out, "null");
    return;
  }
  text *t = DatumGetTextPP(d);
  const char *p = VARDATA_ANY(t);
  escape_json(out, pnstrdup(p, pg_mbcharcliplen(p, static_cast<int>(VARSIZE_ANY_EXHDR(t)), 500)));
}

// A text attribute of the event row, as json_cut_text writes it.
void json_text_attr(StringInfo out, HeapTupleHeader ev, const char *name) {
  bool isnull;
  Datum d = GetAttributeByName(ev, name, &isnull);
  json_cut_text(out, name, d, isnull);
}

// A bigint attribute of the event row as a JSON number, or null.
void json_int8_attr(StringInfo out, HeapTupleHeader ev, const char *name, bool first) {
  bool isnull;
  Datum d = GetAttributeByName(ev, name, &isnull);
  json_key(out, name, first);
  if (isnull)
    appendStringInfoString(out, "null");
  else
    appendStringInfo(out, INT64_FORMAT, DatumGetInt64(d));
}

}  // namespace

namespace apikeys::glue {

void events_init() {
  DefineCustomStringVariable("apikeys.actor", "Application user recorded as the actor of management changes.",
                             "Set it per transaction with SET LOCAL; when empty the session user is recorded.",
                             &actor_value, "", PGC_USERSET, 0, nullptr, nullptr, nullptr);
  RegisterXactCallback(xact_callback, nullptr);
  RegisterSubXactCallback(subxact_callback, nullptr);
}

}  // namespace apikeys::glue

// Lets the events guard accept deletes while apikeys.purge() runs (reset at transaction end).
APIKEYS_FUNCTION(apikeys_allow_event_purge) {
  event_purge_allowed = PG_GETARG_BOOL(0);
  event_purge_subid = GetCurrentSubTransactionId();
  PG_RETURN_VOID();
}

// Whether this transaction is inside apikeys.purge().
APIKEYS_FUNCTION(apikeys_event_purge_allowed) { PG_RETURN_BOOL(event_purge_allowed); }

// The actor of the current transaction: apikeys.actor when set and not empty, else the
// session user (what apikeys.current_actor() computes, without planning a SQL body).
APIKEYS_FUNCTION(apikeys_actor) {
  if (actor_value != nullptr && actor_value[0] != '\0') PG_RETURN_TEXT_P(cstring_to_text(actor_value));
  PG_RETURN_TEXT_P(cstring_to_text(GetUserNameFromId(GetSessionUserId(), false)));
}

// The NOTIFY payload of an event (ids, action, time, tenant, owner, actor; names cut to 500
// characters), byte for byte what 1.0's json_build_object made.
APIKEYS_FUNCTION(apikeys_event_payload) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  HeapTupleHeader ev = PG_GETARG_HEAPTUPLEHEADER(0);
  StringInfoData out;
  initStringInfo(&out);
  appendStringInfoChar(&out, '{');
  json_int8_attr(&out, ev, "event_id", true);
  json_text_attr(&out, ev, "action");
  bool isnull;
  Datum at = GetAttributeByName(ev, "at", &isnull);
  json_key(&out, "at", false);
  if (isnull) {
    appendStringInfoString(&out, "null");
  } else {
    char buf[MAXDATELEN + 1];
    appendStringInfo(&out, "\"%s\"", JsonEncodeDateTime(buf, at, TIMESTAMPTZOID, nullptr));
  }
  json_text_attr(&out, ev, "tenant_id");
  json_int8_attr(&out, ev, "key_id", false);
  json_int8_attr(&out, ev, "key_set_id", false);
  json_cut_text(&out, "owner", PG_GETARG_DATUM(1), PG_ARGISNULL(1));
  json_text_attr(&out, ev, "actor");
  appendStringInfoChar(&out, '}');
  PG_RETURN_TEXT_P(cstring_to_text_with_len(out.data, out.len));
}
