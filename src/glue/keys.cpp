// Keys: apikeys._generate_key, apikeys._random_id, apikeys._key_id and the trigger that
// derives a new key's id from its client id; the pepper setting.
#include "keys.hpp"

#include <openssl/crypto.h>

#include "../core/verdict.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "storage/fd.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
}

namespace core = apikeys::core;
using apikeys::glue::CoreFailure;
using apikeys::glue::outbox;
using apikeys::glue::report;
using apikeys::glue::run_core;

namespace {
char *pepper_value = nullptr;
char *pepper_file = nullptr;

// The pepper read from apikeys.pepper_file (TopMemoryContext), read again after a change.
char *file_pepper = nullptr;
bool file_pepper_stale = true;
bool file_pepper_failed = false;
bool warned_pepper_file = false;

// SHOW and pg_settings never print the pepper, for any role.
const char *show_pepper() { return pepper_value != nullptr && pepper_value[0] != '\0' ? "[redacted]" : ""; }

// The pepper may come from postgresql.conf, ALTER SYSTEM (the data directory) or a
// superuser's SET; never from ALTER DATABASE/ROLE ... SET or a function's SET clause, which
// store it in catalogs that every role can read.
bool check_pepper(char **newval, void **, GucSource source) {
  if (*newval == nullptr || (*newval)[0] == '\0') return true;
  if (source == PGC_S_TEST || source == PGC_S_DATABASE || source == PGC_S_USER || source == PGC_S_DATABASE_USER) {
    GUC_check_errmsg("apikeys.pepper cannot be stored in the catalogs, where every role can read it");
    GUC_check_errhint("Set it in postgresql.conf or with ALTER SYSTEM, or name a file with apikeys.pepper_file.");
    return false;
  }
  return true;
}

void pepper_file_changed(const char *, void *) { file_pepper_stale = true; }

// Reads apikeys.pepper_file (at most 4 kB; trailing white space is not part of the pepper).
void read_pepper_file() {
  file_pepper_stale = false;
  file_pepper_failed = false;
  if (file_pepper != nullptr) {
    explicit_bzero(file_pepper, strlen(file_pepper));
    pfree(file_pepper);
    file_pepper = nullptr;
  }
  FILE *f = AllocateFile(pepper_file, "r");
  char buf[4097];
  size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
  bool ok = f != nullptr && !ferror(f);
  if (f) FreeFile(f);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t')) n--;
  if (!ok || n == 0) {
    file_pepper_failed = true;
    explicit_bzero(buf, sizeof buf);
    return;
  }
  file_pepper = static_cast<char *>(MemoryContextAlloc(TopMemoryContext, n + 1));
  memcpy(file_pepper, buf, n);
  file_pepper[n] = '\0';
  explicit_bzero(buf, sizeof buf);
}

[[noreturn]] void malformed_client_id() {
  ereport(ERROR,
          (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("client id is not of the form <prefix>_<16 base62>")));
  pg_unreachable();
}
}  // namespace

namespace apikeys::glue {

const char *pepper() {
  if (pepper_file != nullptr && pepper_file[0] != '\0') {
    if (file_pepper_stale) read_pepper_file();
    if (file_pepper_failed) {
      if (!warned_pepper_file) {
        warned_pepper_file = true;
        ereport(WARNING, (errmsg("apikeys.pepper_file \"%s\" cannot be read or is empty", pepper_file),
                          errdetail("Keys stored with the pepper answer NOT_FOUND, and no key can be made, until it "
                                    "can be read."),
                          errhidestmt(true)));
      }
      return "";
    }
    return file_pepper;
  }
  return pepper_value ? pepper_value : "";
}

bool pepper_missing() {
  (void)pepper();
  return pepper_file != nullptr && pepper_file[0] != '\0' && file_pepper_failed;
}

core::Scheme new_key(const char *prefix, const char *client_id) {
  const char *pep = pepper();
  if (pepper_missing())
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("no key can be made: apikeys.pepper_file \"%s\" cannot be read or is empty", pepper_file),
                    errhint("Make the file readable by the server's operating system user, then reload.")));
  core::Scheme scheme = pep[0] ? core::Scheme::HmacSha256 : core::Scheme::Sha256;
  CoreFailure fail;
  bool ok = run_core(
      [&] {
        outbox().clear();
        core::NewKey k = client_id ? core::generate_key_for_client(client_id) : core::generate_key(prefix);
        unsigned char hash[core::kHashLen];
        core::hash_key(scheme, pep, k.key, hash);
        outbox().put(k.client_id);
        outbox().put(k.key);
        outbox().put(k.hint);
        outbox().put(std::string_view(reinterpret_cast<const char *>(hash), sizeof hash));
        OPENSSL_cleanse(&k.key[0], k.key.size());
      },
      &fail);
  if (!ok) report(fail);
  return scheme;
}

void keys_init() {
  DefineCustomStringVariable("apikeys.pepper", "Server-side secret mixed into key hashes (HMAC-SHA-256).",
                             "When set, new keys are stored as HMAC-SHA-256 with this pepper; keys stored "
                             "under another scheme keep verifying with theirs.",
                             &pepper_value, "", PGC_SUSET, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
                             check_pepper, nullptr, show_pepper);
  DefineCustomStringVariable("apikeys.pepper_file", "A file holding the pepper (instead of apikeys.pepper).",
                             "Read by each backend when it first needs the pepper and after a reload; the pepper then "
                             "appears in no setting at all. Trailing white space is ignored.",
                             &pepper_file, "", PGC_SIGHUP, GUC_SUPERUSER_ONLY | GUC_NOT_IN_SAMPLE, nullptr,
                             pepper_file_changed, nullptr);
}

}  // namespace apikeys::glue

// A random positive 63-bit id.
APIKEYS_FUNCTION(apikeys_random_id) {
  uint64 v = 0;
  do {
    core::random_bytes(reinterpret_cast<unsigned char *>(&v), sizeof v);
    v &= UINT64CONST(0x7FFFFFFFFFFFFFFF);
  } while (v == 0);
  PG_RETURN_INT64(static_cast<int64>(v));
}

// The key id a client id determines; raises 22023 for a malformed client id.
APIKEYS_FUNCTION(apikeys_key_id) {
  int64 id = core::key_id_of(apikeys::glue::text_view(PG_GETARG_DATUM(0)));
  if (id == 0) malformed_client_id();
  PG_RETURN_INT64(id);
}

// BEFORE INSERT trigger of apikeys.keys: fills key_id from the client id, or refuses an
// explicit key_id that differs from it.
APIKEYS_FUNCTION(apikeys_keys_id) {
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
  if (id == 0) malformed_client_id();
  Datum given = heap_getattr(tuple, key_att, desc, &isnull);
  if (!isnull) {
    if (DatumGetInt64(given) != id)
      ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                      errmsg("key id %lld does not match client id \"%s\"",
                             static_cast<long long>(DatumGetInt64(given)), TextDatumGetCString(client)),
                      errhint("Leave key_id out: a key's id is derived from its client id.")));
    PG_RETURN_POINTER(tuple);
  }
  Datum value = Int64GetDatum(id);
  bool null = false;
  PG_RETURN_POINTER(heap_modify_tuple_by_cols(tuple, desc, 1, &key_att, &value, &null));
}

// A new key (or a new secret for a given client id) with its hint and hash.
APIKEYS_FUNCTION(apikeys_generate_key) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "return type must be a row type");
  if (PG_ARGISNULL(0))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("key prefix must not be NULL")));
  char *prefix = text_to_cstring(PG_GETARG_TEXT_PP(0));
  char *client_id = PG_ARGISNULL(1) ? nullptr : text_to_cstring(PG_GETARG_TEXT_PP(1));
  core::Scheme scheme = apikeys::glue::new_key(prefix, client_id);

  Datum values[5] = {PointerGetDatum(apikeys::glue::outbox_text(0)), PointerGetDatum(apikeys::glue::outbox_text(1)),
                     PointerGetDatum(apikeys::glue::outbox_text(2)), PointerGetDatum(apikeys::glue::outbox_bytea(3)),
                     CStringGetTextDatum(core::scheme_tag(scheme))};
  outbox().clear();
  bool nulls[5] = {false, false, false, false, false};
  HeapTuple tup = heap_form_tuple(BlessTupleDesc(desc), values, nulls);
  explicit_bzero(VARDATA(DatumGetPointer(values[1])), VARSIZE(DatumGetPointer(values[1])) - VARHDRSZ);
  PG_RETURN_DATUM(HeapTupleGetDatum(tup));
}

// True if the text is a valid key prefix (false for NULL).
APIKEYS_FUNCTION(apikeys_valid_key_prefix) {
  PG_RETURN_BOOL(!PG_ARGISNULL(0) && core::valid_prefix(apikeys::glue::text_view(PG_GETARG_DATUM(0))));
}

// True if the text has the shape of a client id (false for NULL).
APIKEYS_FUNCTION(apikeys_valid_client_id) {
  PG_RETURN_BOOL(!PG_ARGISNULL(0) && core::valid_client_id(apikeys::glue::text_view(PG_GETARG_DATUM(0))));
}

namespace {
// A key's state from (status text, expires_at timestamptz) arguments; NULL status reads as
// inactive.
core::KeyState state_args(FunctionCallInfo fcinfo) {
  core::KeyState k;
  k.status = PG_ARGISNULL(0) ? core::KeyStatus::Inactive
                             : core::parse_key_status(apikeys::glue::text_view(PG_GETARG_DATUM(0)));
  k.has_expiry = !PG_ARGISNULL(1);
  k.expires_at = k.has_expiry ? PG_GETARG_TIMESTAMPTZ(1) : 0;
  return k;
}
}  // namespace

// True if a key with this status and expiry is live now (not revoked, not expired).
APIKEYS_FUNCTION(apikeys_key_live) {
  PG_RETURN_BOOL(core::is_live(state_args(fcinfo), GetCurrentTransactionStartTimestamp()));
}

// True if a key with this status and expiry counts against its set's limit now (active, not
// expired).
APIKEYS_FUNCTION(apikeys_key_counts_in_set) {
  PG_RETURN_BOOL(core::counts_in_set(state_args(fcinfo), GetCurrentTransactionStartTimestamp()));
}
