// apikeys.verify and apikeys.authenticate, and the key probe they share with the tokens.
#include "verify.hpp"

#include "binding.hpp"
#include "keys.hpp"
#include "permissions.hpp"
#include "relcache.hpp"
#include "tables.hpp"
#include "tenants.hpp"

extern "C" {
#include "access/detoast.h"
#include "access/xact.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
}

namespace core = apikeys::core;
namespace relcache = apikeys::glue::relcache;
using apikeys::glue::text_view;
using apikeys::glue::Verdict;

namespace {

using namespace apikeys::glue::tables;

// Hash of the presented key under a stored scheme, compared in constant time.
bool hash_matches(std::string_view key, Datum scheme_d, Datum hash_d) {
  core::Scheme scheme;
  if (!core::parse_scheme(text_view(scheme_d), &scheme)) return false;
  bytea *stored = DatumGetByteaPP(hash_d);
  unsigned char computed[core::kHashLen];
  const char *pep = apikeys::glue::pepper();
  if (scheme == core::Scheme::HmacSha256 && pep[0] == '\0') return false;
  apikeys::glue::CoreFailure fail;
  if (!apikeys::glue::run_core([&] { core::hash_key(scheme, pep, key, computed); }, &fail)) apikeys::glue::report(fail);
  return core::ct_equal(reinterpret_cast<const unsigned char *>(VARDATA_ANY(stored)), VARSIZE_ANY_EXHDR(stored),
                        computed, sizeof computed);
}

// The key's own state from a keys row (status and expiry).
core::KeyState state_of(const Datum *v, const bool *n) {
  core::KeyState s;
  s.status = n[keys.att[kStatus] - 1] ? core::KeyStatus::Inactive
                                      : core::parse_key_status(text_view(v[keys.att[kStatus] - 1]));
  s.has_expiry = !n[keys.att[kExpiresAt] - 1];
  s.expires_at = s.has_expiry ? DatumGetTimestampTz(v[keys.att[kExpiresAt] - 1]) : 0;
  return s;
}

// The checks of core::decide for a found key (details already in the verdict).
struct KeyChecks {
  const Verdict *v;
  ArrayType *required;  // null: none
  bool tenant_enabled() { return apikeys::glue::tenant_enabled(v->tenant_id); }
  bool owner_enabled() { return true; }
  bool address_allowed() { return true; }
  bool permissions_held() { return required == nullptr || apikeys::glue::covers_all(v->permissions, required); }
  bool rate_allowed() { return true; }
};

// Copies a keys row's details into the verdict.
void take_details(const Datum *v, const bool *n, Verdict *r) {
  auto col = [](int c) { return keys.att[c] - 1; };
  r->key_id = DatumGetInt64(v[col(kKeyId)]);
  r->tenant_id = DatumGetTextPCopy(v[col(kTenantId)]);
  r->owner = n[col(kOwner)] ? nullptr : DatumGetTextPCopy(v[col(kOwner)]);
  r->has_set = !n[col(kKeySetId)];
  r->key_set_id = r->has_set ? DatumGetInt64(v[col(kKeySetId)]) : 0;
  r->permissions = DatumGetArrayTypePCopy(v[col(kPermissions)]);
  r->has_expiry = !n[col(kExpiresAt)];
  r->expires_at = r->has_expiry ? DatumGetTimestampTz(v[col(kExpiresAt)]) : 0;
}

}  // namespace

namespace apikeys::glue {

void verify_presented_key(Datum key_d, bool key_isnull, Datum required, bool required_isnull, Verdict *r) {
  *r = verdict_of(core::Code::Malformed);
  if (key_isnull) return;
  // A string longer than any key is refused before it is even detoasted.
  if (toast_raw_datum_size(key_d) > VARHDRSZ + core::kMaxKeyLen) return;
  text *key_t = DatumGetTextPP(key_d);
  std::string_view key(VARDATA_ANY(key_t), VARSIZE_ANY_EXHDR(key_t));
  size_t client_len = 0;
  if (!core::parse_key(key, &client_len)) return;

  relcache::resolve(&keys);
  r->code = core::Code::NotFound;
  std::string_view client_id = key.substr(0, client_len);
  bool held = false;  // the row found is the presented key's
  bool matched = false;
  core::KeyState state;
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  auto examine = [&](TupleTableSlot *slot) {
    slot_getallattrs(slot);
    Datum *v = slot->tts_values;
    bool *n = slot->tts_isnull;
    auto col = [](int c) { return keys.att[c] - 1; };
    if (text_view(v[col(kClientId)]) != client_id) return;
    held = true;
    matched = hash_matches(key, v[col(kHashScheme)], v[col(kKeyHash)]);
    if (!matched && !n[col(kPreviousHash)] && !n[col(kPreviousHashScheme)] && !n[col(kPreviousExpiresAt)] &&
        DatumGetTimestampTz(v[col(kPreviousExpiresAt)]) > now)
      matched = hash_matches(key, v[col(kPreviousHashScheme)], v[col(kPreviousHash)]);
    if (!matched) return;
    state = state_of(v, n);
    r->key_id = DatumGetInt64(v[col(kKeyId)]);
    if (core::key_state_code(state, now) == core::Code::Valid) take_details(v, n, r);
  };
  // A key made since 1.1 has the id its client id determines: one probe of the primary key.
  Snapshot snapshot = relcache::statement_snapshot();
  relcache::probe_unique(keys.relid, keys.pkey, F_INT8EQ, Int64GetDatum(core::key_id_of(client_id)), snapshot, examine);
  // A key made by 1.0 (a random id), or none: the client id's own unique index.
  if (!held) {
    text *client_t = cstring_to_text_with_len(client_id.data(), static_cast<int>(client_id.size()));
    relcache::probe_unique(keys.relid, keys.index[kKeysClientIdIndex], F_TEXTEQ, PointerGetDatum(client_t), snapshot,
                           examine);
  }
  if (!matched) return;
  KeyChecks checks{r, required_isnull ? nullptr : DatumGetArrayTypeP(required)};
  r->code = core::decide(state, now, checks);
}

core::Code key_state(int64 key_id) {
  relcache::resolve(&keys);
  bool found = false;
  core::KeyState state;
  Verdict v = verdict_of(core::Code::NotFound);
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  relcache::probe_unique(keys.relid, keys.pkey, F_INT8EQ, Int64GetDatum(key_id), relcache::statement_snapshot(),
                         [&](TupleTableSlot *slot) {
                           slot_getallattrs(slot);
                           found = true;
                           state = state_of(slot->tts_values, slot->tts_isnull);
                           if (core::key_state_code(state, now) == core::Code::Valid)
                             take_details(slot->tts_values, slot->tts_isnull, &v);
                         });
  if (!found) return core::Code::NotFound;
  KeyChecks checks{&v, nullptr};
  return core::decide(state, now, checks);
}

}  // namespace apikeys::glue

namespace {

// apikeys.verify's arguments: (key text, required text[]).
void verify_args(FunctionCallInfo fcinfo, Verdict *r) {
  apikeys::glue::verify_presented_key(PG_GETARG_DATUM(0), PG_ARGISNULL(0),
                                      PG_ARGISNULL(1) ? Datum(0) : PG_GETARG_DATUM(1), PG_ARGISNULL(1), r);
}

}  // namespace

// Checks a presented key; answers with a code and never raises for a bad key.
APIKEYS_FUNCTION(apikeys_verify) {
  Verdict r;
  verify_args(fcinfo, &r);
  PG_RETURN_DATUM(apikeys::glue::verification_datum(fcinfo, r));
}

// Verifies and, on VALID, binds the key to the transaction; otherwise clears any binding.
APIKEYS_FUNCTION(apikeys_authenticate) {
  Verdict r;
  verify_args(fcinfo, &r);
  apikeys::glue::bind_or_clear(r);
  PG_RETURN_DATUM(apikeys::glue::verification_datum(fcinfo, r));
}
