// Module entry: GUCs, transaction callbacks, and the small SQL-callable helpers.
#include "glue.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/snapmgr.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
PG_FUNCTION_INFO_V1(apikeys_random_id);
PG_FUNCTION_INFO_V1(apikeys_key_id);
PG_FUNCTION_INFO_V1(apikeys_keys_id);
PG_FUNCTION_INFO_V1(apikeys_relation_changed);
PG_FUNCTION_INFO_V1(apikeys_signing_keys_changed);
PG_FUNCTION_INFO_V1(apikeys_invalid_permission);
PG_FUNCTION_INFO_V1(apikeys_uncovered_permission);
PG_FUNCTION_INFO_V1(apikeys_permission_covers);
PG_FUNCTION_INFO_V1(apikeys_generate_key);
PG_FUNCTION_INFO_V1(apikeys_count_key_sets);
PG_FUNCTION_INFO_V1(apikeys_count_active_keys);
PG_FUNCTION_INFO_V1(apikeys_count_live_keys);
PG_FUNCTION_INFO_V1(apikeys_allow_event_purge);
PG_FUNCTION_INFO_V1(apikeys_event_purge_allowed);
PG_FUNCTION_INFO_V1(apikeys_actor);
PG_FUNCTION_INFO_V1(apikeys_event_payload);
}

namespace core = apikeys::core;
using apikeys::glue::CoreFailure;
using apikeys::glue::report;
using apikeys::glue::run_core;

namespace {

char *pepper_value = nullptr;
char *actor_value = nullptr;
bool event_purge_allowed = false;
SubTransactionId event_purge_subid = InvalidSubTransactionId;  // where purge() set the flag

// Forgets everything bound to the transaction when it ends.
void xact_callback(XactEvent event, void *) {
  switch (event) {
    case XACT_EVENT_COMMIT:
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PREPARE:
      apikeys::glue::clear_binding();
      event_purge_allowed = false;
      break;
    default:
      break;
  }
}

// An error inside purge() caught by a savepoint must not leave event deletes allowed.
void subxact_callback(SubXactEvent event, SubTransactionId sub, SubTransactionId parent, void *) {
  if (!event_purge_allowed || sub != event_purge_subid) return;
  if (event == SUBXACT_EVENT_ABORT_SUB)
    event_purge_allowed = false;
  else if (event == SUBXACT_EVENT_COMMIT_SUB)
    event_purge_subid = parent;
}


// Runs a count(*) query under the latest snapshot (sees every committed row).
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

void report(const CoreFailure &fail) {
  ereport(ERROR, (errcode(MAKE_SQLSTATE(fail.sqlstate[0], fail.sqlstate[1], fail.sqlstate[2], fail.sqlstate[3],
                                        fail.sqlstate[4])),
                  errmsg("%s", fail.message)));
  pg_unreachable();
}

const char *pepper() { return pepper_value ? pepper_value : ""; }

std::string_view *text_array_views(ArrayType *arr, int *n) {
  Datum *values;
  bool *nulls;
  deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &values, &nulls, n);
  auto *views = static_cast<std::string_view *>(palloc(sizeof(std::string_view) * (*n > 0 ? *n : 1)));
  for (int i = 0; i < *n; i++) views[i] = nulls[i] ? std::string_view() : text_view(values[i]);
  return views;
}

}  // namespace apikeys::glue

void _PG_init(void) {
  DefineCustomStringVariable("apikeys.pepper", "Server-side secret mixed into key hashes (HMAC-SHA-256).",
                             "When set, new keys are stored as HMAC-SHA-256 with this pepper; keys stored "
                             "under another scheme keep verifying with theirs.",
                             &pepper_value, "", PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
                             nullptr, nullptr, nullptr);
  DefineCustomStringVariable("apikeys.actor", "Application user recorded as the actor of management changes.",
                             "Set it per transaction with SET LOCAL; when empty the session user is recorded.",
                             &actor_value, "", PGC_USERSET, 0, nullptr, nullptr, nullptr);
  apikeys::glue::define_token_settings();
#if PG_VERSION_NUM >= 150000
  MarkGUCPrefixReserved("apikeys");
#else
  EmitWarningsOnPlaceholders("apikeys");
#endif
  RegisterXactCallback(xact_callback, nullptr);
  RegisterSubXactCallback(subxact_callback, nullptr);
}

// A random positive 63-bit id.
Datum apikeys_random_id(PG_FUNCTION_ARGS) {
  uint64 v = 0;
  CoreFailure fail;
  bool ok = run_core([&] {
    do {
      core::random_bytes(reinterpret_cast<unsigned char *>(&v), sizeof v);
      v &= UINT64CONST(0x7FFFFFFFFFFFFFFF);
    } while (v == 0);
  }, &fail);
  if (!ok) report(fail);
  PG_RETURN_INT64(static_cast<int64>(v));
}

// The key id a client id determines; raises 22023 for a malformed client id.
Datum apikeys_key_id(PG_FUNCTION_ARGS) {
  int64 id = core::key_id_of(apikeys::glue::text_view(PG_GETARG_DATUM(0)));
  if (id == 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("client id is not of the form <prefix>_<16 base62>")));
  PG_RETURN_INT64(id);
}

// BEFORE INSERT trigger of apikeys.keys: fills key_id from the client id, or refuses an
// explicit key_id that differs from it.
Datum apikeys_keys_id(PG_FUNCTION_ARGS) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED), errmsg("must be called as a trigger")));
  auto *td = reinterpret_cast<TriggerData *>(fcinfo->context);
  if (!TRIGGER_FIRED_BEFORE(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event) ||
      !TRIGGER_FIRED_BY_INSERT(td->tg_event))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                    errmsg("apikeys._keys_id() must run BEFORE INSERT FOR EACH ROW")));
  HeapTuple tuple = td->tg_trigtuple;
  TupleDesc desc = RelationGetDescr(td->tg_relation);
  int client_att = SPI_fnumber(desc, "client_id");
  int key_att = SPI_fnumber(desc, "key_id");
  if (client_att <= 0 || key_att <= 0) elog(ERROR, "apikeys.keys has no client_id or key_id column");
  bool isnull;
  Datum client = heap_getattr(tuple, client_att, desc, &isnull);
  if (isnull) PG_RETURN_POINTER(tuple);  // NOT NULL refuses it
  int64 id = core::key_id_of(apikeys::glue::text_view(client));
  if (id == 0)
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("client id is not of the form <prefix>_<16 base62>")));
  Datum given = heap_getattr(tuple, key_att, desc, &isnull);
  if (!isnull) {
    if (DatumGetInt64(given) != id)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("key id %lld does not match client id \"%s\"", static_cast<long long>(DatumGetInt64(given)),
                             TextDatumGetCString(client)),
                      errhint("Leave key_id out: a key's id is derived from its client id.")));
    PG_RETURN_POINTER(tuple);
  }
  Datum value = Int64GetDatum(id);
  bool null = false;
  PG_RETURN_POINTER(heap_modify_tuple_by_cols(tuple, desc, 1, &key_att, &value, &null));
}

// Statement trigger of a table whose rows backends cache (signing keys for verify_token, the
// tenant switch for verify): invalidates the table's relcache entry in every backend when
// the change commits (on hot standbys through the commit record), which empties the caches.
Datum apikeys_relation_changed(PG_FUNCTION_ARGS) {
  if (!CALLED_AS_TRIGGER(fcinfo))
    ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED), errmsg("must be called as a trigger")));
  CacheInvalidateRelcache(reinterpret_cast<TriggerData *>(fcinfo->context)->tg_relation);
  PG_RETURN_POINTER(nullptr);
}

// 1.0's name for it (apikeys._signing_keys_changed).
Datum apikeys_signing_keys_changed(PG_FUNCTION_ARGS) { return apikeys_relation_changed(fcinfo); }

// The text of a permission for a message: NULL elements show as "NULL".
static Datum permission_text(std::string_view p) {
  return p.data() ? PointerGetDatum(cstring_to_text_with_len(p.data(), static_cast<int>(p.size())))
                  : CStringGetTextDatum("NULL");
}

// First element of a text[] that breaks the permission grammar, or NULL.
Datum apikeys_invalid_permission(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0)) PG_RETURN_TEXT_P(cstring_to_text("NULL"));
  int n;
  std::string_view *perms = apikeys::glue::text_array_views(PG_GETARG_ARRAYTYPE_P(0), &n);
  for (int i = 0; i < n; i++)
    if (perms[i].data() == nullptr || !core::valid_permission(perms[i])) PG_RETURN_DATUM(permission_text(perms[i]));
  PG_RETURN_NULL();
}

// First element of perms that no element of ceiling covers, or NULL.
Datum apikeys_uncovered_permission(PG_FUNCTION_ARGS) {
  if (PG_ARGISNULL(0)) PG_RETURN_NULL();
  int n, nceiling = 0;
  std::string_view *perms = apikeys::glue::text_array_views(PG_GETARG_ARRAYTYPE_P(0), &n);
  std::string_view *ceiling = PG_ARGISNULL(1) ? nullptr : apikeys::glue::text_array_views(PG_GETARG_ARRAYTYPE_P(1), &nceiling);
  for (int i = 0; i < n; i++)
    if (perms[i].data() == nullptr || !core::any_covers(ceiling, nceiling, perms[i]))
      PG_RETURN_DATUM(permission_text(perms[i]));
  PG_RETURN_NULL();
}

// True if the granted permissions cover the required one.
Datum apikeys_permission_covers(PG_FUNCTION_ARGS) {
  int n;
  std::string_view *granted = apikeys::glue::text_array_views(PG_GETARG_ARRAYTYPE_P(0), &n);
  PG_RETURN_BOOL(core::any_covers(granted, n, apikeys::glue::text_view(PG_GETARG_DATUM(1))));
}

// A new key (or a new secret for a given client id) with its hint and hash.
Datum apikeys_generate_key(PG_FUNCTION_ARGS) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "return type must be a row type");
  if (PG_ARGISNULL(0)) ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("key prefix must not be NULL")));
  char *prefix = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char *client_id = PG_ARGISNULL(1) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(1));
  const char *pep = apikeys::glue::pepper();
  core::Scheme scheme = pep[0] ? core::Scheme::HmacSha256 : core::Scheme::Sha256;

  // Results land in palloc'd buffers sized in advance; the core's strings die in the lambda.
  char *out_client = static_cast<char *>(palloc0(core::kMaxKeyLen + 1));
  char *out_key = static_cast<char *>(palloc0(core::kMaxKeyLen + 1));
  char out_hint[core::kHintLen + 1] = {0};
  bytea *hash = static_cast<bytea *>(palloc(VARHDRSZ + core::kHashLen));
  SET_VARSIZE(hash, VARHDRSZ + core::kHashLen);
  CoreFailure fail;
  bool ok = run_core([&] {
    core::NewKey k = client_id ? core::generate_key_for_client(client_id) : core::generate_key(prefix);
    std::memcpy(out_client, k.client_id.data(), k.client_id.size());
    std::memcpy(out_key, k.key.data(), k.key.size());
    std::memcpy(out_hint, k.hint.data(), k.hint.size());
    core::hash_key(scheme, pep, k.key, reinterpret_cast<unsigned char *>(VARDATA(hash)));
    OPENSSL_cleanse(&k.key[0], k.key.size());
  }, &fail);
  if (!ok) report(fail);

  Datum values[5] = {CStringGetTextDatum(out_client), CStringGetTextDatum(out_key), CStringGetTextDatum(out_hint),
                     PointerGetDatum(hash), CStringGetTextDatum(core::scheme_tag(scheme))};
  bool nulls[5] = {false, false, false, false, false};
  HeapTuple tup = heap_form_tuple(BlessTupleDesc(desc), values, nulls);
  explicit_bzero(out_key, core::kMaxKeyLen + 1);
  PG_RETURN_DATUM(HeapTupleGetDatum(tup));
}

// Key sets of a tenant, seen through the latest snapshot.
Datum apikeys_count_key_sets(PG_FUNCTION_ARGS) {
  static SPIPlanPtr plan = nullptr;
  Oid types[1] = {TEXTOID};
  Datum values[1] = {PG_GETARG_DATUM(0)};
  PG_RETURN_INT64(fresh_count(&plan,
                              "SELECT pg_catalog.count(*) FROM apikeys.key_sets "
                              "WHERE tenant_id OPERATOR(pg_catalog.=) $1",
                              1, types, values));
}

// Active, unexpired keys of a key set, seen through the latest snapshot.
Datum apikeys_count_active_keys(PG_FUNCTION_ARGS) {
  static SPIPlanPtr plan = nullptr;
  Oid types[1] = {INT8OID};
  Datum values[1] = {PG_GETARG_DATUM(0)};
  PG_RETURN_INT64(fresh_count(&plan,
                              "SELECT pg_catalog.count(*) FROM apikeys.keys "
                              "WHERE key_set_id OPERATOR(pg_catalog.=) $1 "
                              "AND status OPERATOR(pg_catalog.=) 'active' "
                              "AND (expires_at IS NULL OR expires_at OPERATOR(pg_catalog.>) pg_catalog.now())",
                              1, types, values));
}

// Live (not revoked, not expired) keys of an owner, seen through the latest snapshot.
Datum apikeys_count_live_keys(PG_FUNCTION_ARGS) {
  static SPIPlanPtr plan = nullptr;
  Oid types[2] = {TEXTOID, TEXTOID};
  Datum values[2] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1)};
  PG_RETURN_INT64(fresh_count(&plan,
                              "SELECT pg_catalog.count(*) FROM apikeys.keys "
                              "WHERE tenant_id OPERATOR(pg_catalog.=) $1 AND owner OPERATOR(pg_catalog.=) $2 "
                              "AND status OPERATOR(pg_catalog.<>) 'revoked' "
                              "AND (expires_at IS NULL OR expires_at OPERATOR(pg_catalog.>) pg_catalog.now())",
                              2, types, values));
}

// Lets the events guard accept deletes while apikeys.purge() runs (reset at transaction end).
Datum apikeys_allow_event_purge(PG_FUNCTION_ARGS) {
  event_purge_allowed = PG_GETARG_BOOL(0);
  event_purge_subid = GetCurrentSubTransactionId();
  PG_RETURN_VOID();
}

// Whether this transaction is inside apikeys.purge().
Datum apikeys_event_purge_allowed(PG_FUNCTION_ARGS) { PG_RETURN_BOOL(event_purge_allowed); }

// The actor of the current transaction: apikeys.actor when set and not empty, else the
// session user (what apikeys.current_actor() computes, without planning a SQL body).
Datum apikeys_actor(PG_FUNCTION_ARGS) {
  if (actor_value != nullptr && actor_value[0] != '\0') PG_RETURN_TEXT_P(cstring_to_text(actor_value));
  PG_RETURN_TEXT_P(cstring_to_text(GetUserNameFromId(GetSessionUserId(), false)));
}

namespace {

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

// The NOTIFY payload of an event (ids, action, time, tenant, owner, actor; names cut to 500
// characters), byte for byte what 1.0's json_build_object made.
Datum apikeys_event_payload(PG_FUNCTION_ARGS) {
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
