// apikeys.verify and apikeys.authenticate, and the key probe they share with the tokens.
#include "verify.hpp"

#include "binding.hpp"
#include "keys.hpp"
#include "permissions.hpp"
#include "relcache.hpp"
#include "settings.hpp"
#include "tables.hpp"
#include "usage.hpp"

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

// The presented key's hash under scheme, compared in constant time with stored.
bool hash_equals(std::string_view key, core::Scheme scheme, const unsigned char *stored, size_t stored_len) {
  unsigned char computed[core::kHashLen];
  const char *pep = apikeys::glue::pepper();
  apikeys::glue::CoreFailure fail;
  if (!apikeys::glue::run_core([&] { core::hash_key(scheme, pep, key, computed); }, &fail)) apikeys::glue::report(fail);
  return core::ct_equal(stored, stored_len, computed, sizeof computed);
}

// Hash of the presented key under a stored scheme, compared in constant time.
bool hash_matches(std::string_view key, Datum scheme_d, Datum hash_d) {
  core::Scheme scheme;
  if (!core::parse_scheme(text_view(scheme_d), &scheme)) return false;
  if (scheme == core::Scheme::HmacSha256 && apikeys::glue::pepper()[0] == '\0') return false;
  bytea *stored = DatumGetByteaPP(hash_d);
  return hash_equals(key, scheme, reinterpret_cast<const unsigned char *>(VARDATA_ANY(stored)),
                     VARSIZE_ANY_EXHDR(stored));
}

// The work of a known client id with a wrong secret, for an unknown one: the hash of this
// server's scheme, computed and compared (with nothing that can match).
void burn_hash(std::string_view key) {
  static const unsigned char none[core::kHashLen] = {};
  bool hmac = apikeys::glue::pepper()[0] != '\0';
  (void)hash_equals(key, hmac ? core::Scheme::HmacSha256 : core::Scheme::Sha256, none, sizeof none);
}

Datum get(TupleTableSlot *slot, int column, bool *isnull) {
  AttrNumber a = keys.att[column];
  if (a == InvalidAttrNumber) {  // a column an older schema lacks
    *isnull = true;
    return (Datum)0;
  }
  return slot_getattr(slot, a, isnull);
}

// The key's own state from a keys row (status and expiry).
core::KeyState state_of(TupleTableSlot *slot) {
  bool n;
  core::KeyState s;
  Datum status = get(slot, kStatus, &n);
  s.status = n ? core::KeyStatus::Inactive : core::parse_key_status(text_view(status));
  Datum expires = get(slot, kExpiresAt, &n);
  s.has_expiry = !n;
  s.expires_at = n ? 0 : DatumGetTimestampTz(expires);
  return s;
}

// What a found key's row says besides its state: copied, so it outlives the probe.
struct KeyFacts {
  bool owner_disabled = false;
  apikeys::glue::AllowList allowed_ips;  // the key's own
  apikeys::glue::RateLimit rate;         // the key's own
};

// Copies a keys row's details into the verdict, and the facts the checks need.
void take_details(TupleTableSlot *slot, Verdict *r, KeyFacts *f) {
  bool n, n2;
  r->key_id = DatumGetInt64(get(slot, kKeyId, &n));
  r->tenant_id = DatumGetTextPCopy(get(slot, kTenantId, &n));
  r->permissions = DatumGetArrayTypePCopy(get(slot, kPermissions, &n));
  Datum expires = get(slot, kExpiresAt, &n);
  r->has_expiry = !n;
  r->expires_at = n ? 0 : DatumGetTimestampTz(expires);
  Datum set = get(slot, kKeySetId, &n);
  r->has_set = !n;
  r->key_set_id = n ? 0 : DatumGetInt64(set);
  Datum owner = get(slot, kOwner, &n);
  r->owner = n ? nullptr : DatumGetTextPCopy(owner);
  if (f == nullptr) return;
  Datum disabled = get(slot, kOwnerDisabled, &n);
  f->owner_disabled = !n && DatumGetBool(disabled);
  Datum ips = get(slot, kAllowedIps, &n);
  f->allowed_ips = apikeys::glue::allow_list_of(ips, n);
  Datum limit = get(slot, kRateLimit, &n);
  Datum window = get(slot, kRateWindow, &n2);
  f->rate = apikeys::glue::rate_limit_of(limit, n, window, n2);
}

// The checks of core::decide for a found key (details already in the verdict).
struct KeyChecks {
  Verdict *v;
  const KeyFacts *facts;
  ArrayType *required;          // null: none
  const core::Network *client;  // null: no address given
  bool per_request;             // the address and the rate are checked (not for a token's key state)
  const apikeys::glue::TenantSettings *tenant = nullptr;
  const apikeys::glue::KeySetSettings *set_settings = nullptr;

  const apikeys::glue::KeySetSettings &set() {
    if (set_settings == nullptr) set_settings = &apikeys::glue::key_set_settings(v->key_set_id);
    return *set_settings;
  }
  bool tenant_enabled() {
    tenant = &apikeys::glue::tenant_settings(v->tenant_id);
    return tenant->enabled;
  }
  bool owner_enabled() { return v->owner == nullptr || !facts->owner_disabled; }
  // The most specific list: the key's own, else its set's, else its tenant's.
  bool address_allowed() {
    if (!per_request) return true;
    apikeys::glue::AllowList list = facts->allowed_ips;
    if (!list.set() && v->has_set) list = set().allowed_ips;
    if (!list.set()) list = tenant->allowed_ips;
    v->allowed_ips = list;
    if (!list.set()) return true;
    return client != nullptr && core::within_any(*client, list.networks, static_cast<size_t>(list.n));
  }
  bool permissions_held() { return required == nullptr || apikeys::glue::covers_all(v->permissions, required); }
  // The key's own limit, else its set's, else its tenant's limit for each key; and the
  // tenant's limit for all its keys together. Takes one unit of each allowance.
  bool rate_allowed() {
    if (!per_request) return true;
    apikeys::glue::RateLimit key = facts->rate;
    if (key.limit <= 0 && v->has_set) key = set().rate;
    if (key.limit <= 0) key = tenant->key_rate;
    v->key_rate = key;
    v->tenant_rate = tenant->rate;
    return apikeys::glue::usage_admit(v->key_id, v->tenant_id, key, tenant->rate);
  }
};

}  // namespace

namespace apikeys::glue {

void verify_presented_key(const Presented &p, Verdict *r) {
  *r = verdict_of(core::Code::Malformed);
  if (p.key_null) return;
  // A string longer than any key is refused before it is even detoasted.
  if (toast_raw_datum_size(p.key) > VARHDRSZ + core::kMaxKeyLen) return;
  text *key_t = DatumGetTextPP(p.key);
  std::string_view key(VARDATA_ANY(key_t), VARSIZE_ANY_EXHDR(key_t));
  size_t client_len = 0;
  if (!core::parse_key(key, &client_len)) return;

  relcache::resolve(&keys);
  r->code = core::Code::NotFound;
  std::string_view client_id = key.substr(0, client_len);
  bool held = false;  // the row found is the presented key's
  bool matched = false;
  core::KeyState state;
  KeyFacts facts;
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  // The columns are read in the order the row stores them (each read deforms only up to it).
  auto examine = [&](TupleTableSlot *slot) {
    bool n, n2, n3;
    if (text_view(get(slot, kClientId, &n)) != client_id) return;
    held = true;
    Datum hash = get(slot, kKeyHash, &n);
    Datum scheme = get(slot, kHashScheme, &n2);
    matched = !n && !n2 && hash_matches(key, scheme, hash);
    if (!matched) {
      Datum previous = get(slot, kPreviousHash, &n);
      Datum previous_scheme = get(slot, kPreviousHashScheme, &n2);
      Datum previous_until = get(slot, kPreviousExpiresAt, &n3);
      matched =
          !n && !n2 && !n3 && DatumGetTimestampTz(previous_until) > now && hash_matches(key, previous_scheme, previous);
    }
    if (!matched) return;
    state = state_of(slot);
    r->key_id = DatumGetInt64(get(slot, kKeyId, &n));
    if (core::key_state_code(state, now) == core::Code::Valid) take_details(slot, r, &facts);
  };
  // A key made since 1.1 has the id its client id determines: one probe of the primary key.
  Snapshot snapshot = relcache::committed_snapshot();
  relcache::probe_unique(keys.relid, keys.pkey, F_INT8EQ, Int64GetDatum(core::key_id_of(client_id)), snapshot, examine);
  // A key made by 1.0 (a random id), or none: the index of 1.0's client ids, which is empty
  // unless keys of 1.0 remain (before 1.2's update, the unique index of every client id).
  if (!held) {
    Oid legacy = keys.index[kKeysLegacyClientIdIndex];
    if (!OidIsValid(legacy)) legacy = keys.index[kKeysClientIdIndex];
    text *client_t = cstring_to_text_with_len(client_id.data(), static_cast<int>(client_id.size()));
    relcache::probe_unique(keys.relid, legacy, F_TEXTEQ, PointerGetDatum(client_t), snapshot, examine);
  }
  // An unknown client id costs what a known one with a wrong secret does: one hash, so that
  // the time of an answer does not tell whether the client id exists.
  if (!held) burn_hash(key);
  if (!matched) return;
  core::Network client;
  if (!p.client_ip_null) client = network_of(p.client_ip);
  KeyChecks checks{r, &facts, p.required_null ? nullptr : DatumGetArrayTypeP(p.required),
                   p.client_ip_null ? nullptr : &client, true};
  r->code = core::decide(state, now, checks);
  if (core::identifies_key(r->code)) apikeys::glue::usage_count(r->key_id, r->code);
}

core::Code key_state(int64 key_id) {
  relcache::resolve(&keys);
  bool found = false;
  core::KeyState state;
  Verdict v = verdict_of(core::Code::NotFound);
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  KeyFacts facts;
  relcache::probe_unique(keys.relid, keys.pkey, F_INT8EQ, Int64GetDatum(key_id), relcache::committed_snapshot(),
                         [&](TupleTableSlot *slot) {
                           found = true;
                           state = state_of(slot);
                           if (core::key_state_code(state, now) == core::Code::Valid) take_details(slot, &v, &facts);
                         });
  if (!found) return core::Code::NotFound;
  // The key's own state and its tenant's and owner's switches; where the request comes from
  // and what it asks for are checked against the token.
  KeyChecks checks{&v, &facts, nullptr, nullptr, false};
  return core::decide(state, now, checks);
}

}  // namespace apikeys::glue

namespace {

// apikeys.verify's arguments: (key text, required text[], client_ip inet); 1.1's verify has
// only the first two.
void verify_args(FunctionCallInfo fcinfo, Verdict *r) {
  apikeys::glue::Presented p;
  p.key = PG_GETARG_DATUM(0);
  p.key_null = PG_ARGISNULL(0);
  p.required = PG_ARGISNULL(1) ? (Datum)0 : PG_GETARG_DATUM(1);
  p.required_null = PG_ARGISNULL(1);
  p.client_ip_null = PG_NARGS() < 3 || PG_ARGISNULL(2);
  p.client_ip = p.client_ip_null ? (Datum)0 : PG_GETARG_DATUM(2);
  apikeys::glue::verify_presented_key(p, r);
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
