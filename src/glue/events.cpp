// Events: recording them (apikeys._record_event and record_event for C callers), their
// NOTIFY payload, the actor (apikeys._actor) and the purge flag.
#include "events.hpp"

#include "notify_queue.hpp"
#include "tables.hpp"
#include "writes.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
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

// A bigint as a JSON string (63-bit ids do not survive JavaScript numbers), or null.
void json_id(StringInfo out, const char *name, int64 id, bool first) {
  json_key(out, name, first);
  if (id == 0)
    appendStringInfoString(out, "null");
  else
    appendStringInfo(out, "\"" INT64_FORMAT "\"", id);
}

// The 1.2 payload: ids (as strings), action, time and tenant; no personal data.
char *payload(int64 event_id, const char *action, TimestampTz at, Datum tenant_id, int64 key_id, int64 key_set_id) {
  StringInfoData out;
  initStringInfo(&out);
  appendStringInfoChar(&out, '{');
  json_id(&out, "event_id", event_id, true);
  json_key(&out, "action", false);
  escape_json(&out, action);
  json_key(&out, "at", false);
  char buf[MAXDATELEN + 1];
  appendStringInfo(&out, "\"%s\"", JsonEncodeDateTime(buf, TimestampTzGetDatum(at), TIMESTAMPTZOID, nullptr));
  json_cut_text(&out, "tenant_id", tenant_id, tenant_id == 0);
  json_id(&out, "key_id", key_id, false);
  json_id(&out, "key_set_id", key_set_id, false);
  appendStringInfoChar(&out, '}');
  return out.data;
}

}  // namespace

namespace apikeys::glue {

text *actor() {
  if (actor_value != nullptr && actor_value[0] != '\0') return cstring_to_text(actor_value);
  return cstring_to_text(GetUserNameFromId(GetSessionUserId(), false));
}

bool event_purge_allowed() { return ::event_purge_allowed; }

const char *actor_setting() { return actor_value != nullptr ? actor_value : ""; }

void record_event(Datum tenant_id, int64 key_id, int64 key_set_id, const char *action, Datum details) {
  using namespace tables;
  relcache::resolve(&events);
  NewRow row;
  row.set(events.att[kEventTenantId], tenant_id, tenant_id == 0);
  row.set(events.att[kEventKeyId], Int64GetDatum(key_id), key_id == 0);
  row.set(events.att[kEventKeySetId], Int64GetDatum(key_set_id), key_set_id == 0);
  row.set(events.att[kEventAction], CStringGetTextDatum(action));
  row.set(events.att[kEventDetails], details);
  insert_row(&events, &row);
  int64 event_id = DatumGetInt64(row.v[events.att[kEventId] - 1]);
  TimestampTz at = DatumGetTimestampTz(row.v[events.att[kEventAt] - 1]);
  notify_event(payload(event_id, action, at, tenant_id, key_id, key_set_id));
}

namespace {
void push_string(JsonbParseState **state, JsonbIteratorToken token, const char *p, size_t len) {
  JsonbValue v;
  v.type = jbvString;
  v.val.string.len = static_cast<int>(len);
  v.val.string.val = const_cast<char *>(p);
  pushJsonbValue(state, token, &v);
}
void push_null(JsonbParseState **state, JsonbIteratorToken token) {
  JsonbValue v;
  v.type = jbvNull;
  pushJsonbValue(state, token, &v);
}
}  // namespace

JsonObject::JsonObject() { pushJsonbValue(&state_, WJB_BEGIN_OBJECT, nullptr); }

void JsonObject::key(const char *name) { push_string(&state_, WJB_KEY, name, strlen(name)); }

void JsonObject::jsonb(Datum value) {
  Jsonb *j = DatumGetJsonbP(value);
  JsonbValue v;
  v.type = jbvBinary;
  v.val.binary.data = &j->root;
  v.val.binary.len = static_cast<int>(VARSIZE(j) - VARHDRSZ);
  pushJsonbValue(&state_, WJB_VALUE, &v);
}

void JsonObject::add_text(const char *name, Datum value, bool isnull) {
  key(name);
  if (isnull) return push_null(&state_, WJB_VALUE);
  std::string_view t = text_view(value);
  push_string(&state_, WJB_VALUE, t.data(), t.size());
}

void JsonObject::add_text_array(const char *name, Datum value, bool isnull) {
  key(name);
  if (isnull) return push_null(&state_, WJB_VALUE);
  int n;
  std::string_view *v = text_array_views(DatumGetArrayTypeP(value), &n);
  pushJsonbValue(&state_, WJB_BEGIN_ARRAY, nullptr);
  for (int i = 0; i < n; i++) {
    if (v[i].data() == nullptr)
      push_null(&state_, WJB_ELEM);
    else
      push_string(&state_, WJB_ELEM, v[i].data(), v[i].size());
  }
  pushJsonbValue(&state_, WJB_END_ARRAY, nullptr);
}

void JsonObject::add_timestamptz(const char *name, Datum value, bool isnull) {
  key(name);
  if (isnull) return push_null(&state_, WJB_VALUE);
  // pushJsonbValue keeps the pointer, not the bytes, until finish(): a palloc'd copy.
  char buf[MAXDATELEN + 1];
  const char *s = pstrdup(JsonEncodeDateTime(buf, value, TIMESTAMPTZOID, nullptr));
  push_string(&state_, WJB_VALUE, s, strlen(s));
}

void JsonObject::add_change(const char *name, Datum old_value, Datum new_value) {
  key(name);
  pushJsonbValue(&state_, WJB_BEGIN_OBJECT, nullptr);
  key("old");
  jsonb(old_value);
  key("new");
  jsonb(new_value);
  pushJsonbValue(&state_, WJB_END_OBJECT, nullptr);
}

Datum JsonObject::finish() {
  return JsonbPGetDatum(JsonbValueToJsonb(pushJsonbValue(&state_, WJB_END_OBJECT, nullptr)));
}

Datum to_jsonb_of(Datum value, bool isnull, Oid type) {
  if (isnull) return DirectFunctionCall1(jsonb_in, CStringGetDatum("null"));
  // to_jsonb(anyelement) reads its argument's type from the call expression.
  FmgrInfo flinfo;
  fmgr_info(F_TO_JSONB, &flinfo);
  Const *arg = makeNullConst(type, -1, InvalidOid);
  fmgr_info_set_expr(reinterpret_cast<Node *>(makeFuncExpr(F_TO_JSONB, JSONBOID, list_make1(arg), InvalidOid,
                                                           InvalidOid, COERCE_EXPLICIT_CALL)),
                     &flinfo);
  return FunctionCall1(&flinfo, value);
}

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
APIKEYS_FUNCTION(apikeys_actor) { PG_RETURN_TEXT_P(apikeys::glue::actor()); }

// Records one event (apikeys._record_event): the tenants and key sets triggers call it.
APIKEYS_FUNCTION(apikeys_record_event) {
  if (PG_ARGISNULL(3)) ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("an event needs an action")));
  Datum details = PG_ARGISNULL(4) ? DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")) : PG_GETARG_DATUM(4);
  apikeys::glue::record_event(PG_ARGISNULL(0) ? Datum(0) : PG_GETARG_DATUM(0), PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1),
                              PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2), text_to_cstring(PG_GETARG_TEXT_PP(3)), details);
  PG_RETURN_VOID();
}

// The NOTIFY payload an event row gets since 1.2 (apikeys._event_payload(apikeys.events)).
APIKEYS_FUNCTION(apikeys_event_payload_v2) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  HeapTupleHeader ev = PG_GETARG_HEAPTUPLEHEADER(0);
  bool n_id, n_action, n_at, n_tenant, n_key, n_set;
  Datum id = GetAttributeByName(ev, "event_id", &n_id);
  Datum action = GetAttributeByName(ev, "action", &n_action);
  Datum at = GetAttributeByName(ev, "at", &n_at);
  Datum tenant = GetAttributeByName(ev, "tenant_id", &n_tenant);
  Datum key = GetAttributeByName(ev, "key_id", &n_key);
  Datum set = GetAttributeByName(ev, "key_set_id", &n_set);
  if (n_id || n_action || n_at) PG_RETURN_NULL();
  PG_RETURN_TEXT_P(cstring_to_text(payload(DatumGetInt64(id), TextDatumGetCString(action), DatumGetTimestampTz(at),
                                           n_tenant ? Datum(0) : tenant, n_key ? 0 : DatumGetInt64(key),
                                           n_set ? 0 : DatumGetInt64(set))));
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
