// Access tokens (client credentials -> JWT). verify_token reads no table on its hot path:
// the signing keys come from signing_keys.hpp's cache.
#include "tokens.hpp"

#include <openssl/crypto.h>

#include "../core/jwt.hpp"
#include "binding.hpp"
#include "signing_keys.hpp"
#include "usage.hpp"
#include "verify.hpp"

extern "C" {
#include "access/detoast.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/elog.h"
#include "utils/guc.h"
}

namespace core = apikeys::core;
namespace jwt = apikeys::core::jwt;
using apikeys::glue::CoreFailure;
using apikeys::glue::outbox;
using apikeys::glue::report;
using apikeys::glue::run_core;
using apikeys::glue::Verdict;

namespace {

char *token_issuer_value = nullptr;

const char *token_issuer() { return token_issuer_value ? token_issuer_value : "apikeys"; }

// ---- time ----------------------------------------------------------------------------------

constexpr int64 kUnixEpochOffsetUs =
    static_cast<int64>(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC;

// Microseconds since 1970 of a finite timestamp.
int64 unix_us(TimestampTz t) { return t + kUnixEpochOffsetUs; }

int64 floor_div(int64 a, int64 b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// A NumericDate (seconds since 1970, at most year 9999) as a timestamp.
TimestampTz from_unix_seconds(int64 s) { return s * USECS_PER_SEC - kUnixEpochOffsetUs; }

// ---- verification --------------------------------------------------------------------------

// UTF-8 claim bytes as text in the database encoding.
text *claim_text(std::string_view v) {
  char *s = pg_any_to_server(v.data(), static_cast<int>(v.size()), PG_UTF8);
  return s == v.data() ? cstring_to_text_with_len(v.data(), static_cast<int>(v.size())) : cstring_to_text(s);
}

// What a token carries besides its strings, which wait in the outbox: tenant (field 0),
// owner (1, when has_owner), then one field per permission.
struct TokenFacts {
  core::Code code;
  int64 key_id;
  bool has_set;
  int64 key_set_id;
  int64 exp;
  bool has_owner;
  size_t nperms;
  bool has_ips;
  bool address_allowed;  // when has_ips: the client's address lies within one of them
  bool has_rate;
  int64 rate[4];  // the "rl" claim
};

core::Code code_of(jwt::Status s) {
  switch (s) {
    case jwt::Status::Valid:
      return core::Code::Valid;
    case jwt::Status::Malformed:
      return core::Code::Malformed;
    case jwt::Status::InvalidSignature:
      return core::Code::InvalidSignature;
    case jwt::Status::UnknownKey:
      return core::Code::UnknownKey;
    case jwt::Status::WrongIssuer:
      return core::Code::WrongIssuer;
    case jwt::Status::Expired:
      return core::Code::Expired;
    case jwt::Status::NotYetValid:
      return core::Code::NotYetValid;
  }
  return core::Code::Malformed;
}

// Verifies the token argument; fills *v (details only when VALID). Never raises for a bad
// token; only the signing keys are read, and only when their cache was invalidated.
void verify_token_arg(FunctionCallInfo fcinfo, bool check_revocation, int client_ip_arg, Verdict *v) {
  *v = apikeys::glue::verdict_of(core::Code::Malformed);
  if (PG_ARGISNULL(0)) return;
  // A string longer than any token is refused before it is even detoasted.
  if (toast_raw_datum_size(PG_GETARG_DATUM(0)) > VARHDRSZ + jwt::kMaxTokenLen) return;
  text *t = PG_GETARG_TEXT_PP(0);
  std::string_view token(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
  if (token.empty()) return;

  apikeys::glue::load_signing_keys();
  const char *issuer = token_issuer();
  int64 now = floor_div(unix_us(GetCurrentTransactionStartTimestamp()), USECS_PER_SEC);
  TokenFacts f{};
  bool has_client = PG_NARGS() > client_ip_arg && !PG_ARGISNULL(client_ip_arg);
  core::Network client;
  if (has_client) client = apikeys::glue::network_of(PG_GETARG_DATUM(client_ip_arg));
  CoreFailure fail;
  bool ok = run_core(
      [&] {
        outbox().clear();
        jwt::VerifyOptions opt;
        opt.issuer = issuer;
        opt.now = now;
        jwt::Claims c;
        jwt::Status s = jwt::verify(token, apikeys::glue::signing_key_lookup, nullptr, opt, &c);
        f.code = code_of(s);
        if (s != jwt::Status::Valid) return;
        f.key_id = c.key_id;
        f.has_set = c.has_key_set;
        f.key_set_id = c.key_set_id;
        f.exp = c.exp;
        f.has_owner = c.has_owner;
        outbox().put(c.tenant);
        if (c.has_owner) outbox().put(c.owner);
        for (const std::string &p : c.perms) outbox().put(p);
        f.nperms = c.perms.size();
        f.has_ips = c.has_ips;
        f.has_rate = c.has_rate;
        for (int i = 0; i < 4; i++) f.rate[i] = c.rate[i];
        f.address_allowed = has_client && core::within_any(client, c.ips.data(), c.ips.size());
      },
      &fail);
  if (!ok) report(fail);
  if (f.code != core::Code::Valid) {
    v->code = f.code;
    return;
  }

  v->code = core::Code::Valid;
  v->key_id = f.key_id;
  size_t field = 0;
  v->tenant_id = claim_text(outbox().get(field++));
  v->owner = f.has_owner ? claim_text(outbox().get(field++)) : nullptr;
  v->has_set = f.has_set;
  v->key_set_id = f.key_set_id;
  Datum *elems = static_cast<Datum *>(palloc((f.nperms + 1) * sizeof(Datum)));
  for (size_t i = 0; i < f.nperms; i++) elems[i] = PointerGetDatum(claim_text(outbox().get(field++)));
  outbox().clear();
  v->permissions = construct_array(elems, static_cast<int>(f.nperms), TEXTOID, -1, false, TYPALIGN_INT);
  v->has_expiry = true;
  v->expires_at = from_unix_seconds(f.exp);

  if (check_revocation) {
    core::Code state = apikeys::glue::key_state(v->key_id);
    if (state != core::Code::Valid) {
      int64 key_id = v->key_id;
      *v = apikeys::glue::verdict_of(state);
      v->key_id = key_id;
      return;
    }
  }
  // A token issued for a key with an allowlist carries it ("ips"): the address must lie
  // within. One with rate limits ("rl") takes a unit of them, as verify does, last.
  core::Code last = core::Code::Valid;
  if (f.has_ips && !f.address_allowed) {
    last = core::Code::Forbidden;
  } else if (f.has_rate) {
    apikeys::glue::RateLimit key{static_cast<int32>(Min(f.rate[0], PG_INT32_MAX)), f.rate[1]};
    apikeys::glue::RateLimit tenant{static_cast<int32>(Min(f.rate[2], PG_INT32_MAX)), f.rate[3]};
    if (!apikeys::glue::usage_admit(v->key_id, v->tenant_id, key, tenant)) last = core::Code::RateLimited;
  }
  if (last != core::Code::Valid) {
    int64 key_id = v->key_id;
    *v = apikeys::glue::verdict_of(last);
    v->key_id = key_id;
  }
}

// A token's answer is counted for its key when the signature named one.
void count_token_answer(const Verdict &v) {
  if (v.key_id != 0 && core::identifies_key(v.code)) apikeys::glue::usage_count(v.key_id, v.code);
}

// ---- issuing -------------------------------------------------------------------------------

[[noreturn]] void refuse_credentials(const char *why) {
  ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION), errmsg("client credentials refused: %s", why),
                  errhidestmt(true), errhidecontext(true)));
  pg_unreachable();
}

// Text in the database encoding as UTF-8 bytes (a view of the text or a palloc'd copy).
std::string_view utf8_view(text *t) {
  const char *s = VARDATA_ANY(t);
  int n = VARSIZE_ANY_EXHDR(t);
  char *u = pg_server_to_any(s, n, PG_UTF8);
  return std::string_view(u, u == s ? static_cast<size_t>(n) : strlen(u));
}

Datum issue_token_impl(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) refuse_credentials("client_id and client_secret are required");
  if (PG_ARGISNULL(2))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("ttl must not be NULL"), errhidestmt(true)));
  Interval *ttl = PG_GETARG_INTERVAL_P(2);
  // Months count as 30 days, as interval comparison does; infinite intervals saturate.
  __int128 ttl_us = static_cast<__int128>(ttl->month) * DAYS_PER_MONTH * USECS_PER_DAY +
                    static_cast<__int128>(ttl->day) * USECS_PER_DAY + ttl->time;
  if (ttl_us <= 0)
    ereport(ERROR,
            (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("ttl must be a positive interval"), errhidestmt(true)));
  if (ttl_us > static_cast<__int128>(jwt::kMaxTtlSeconds) * USECS_PER_SEC) ttl_us = jwt::kMaxTtlSeconds * USECS_PER_SEC;

  // The client secret is the whole key, which starts with the client id. No message names
  // either: a caller that swapped the arguments would see its secret in the log.
  Datum secret_d = PG_GETARG_DATUM(1);
  if (toast_raw_datum_size(secret_d) > VARHDRSZ + core::kMaxKeyLen) refuse_credentials("malformed client secret");
  text *client_id = PG_GETARG_TEXT_PP(0);
  text *secret = DatumGetTextPP(secret_d);
  size_t id_len = VARSIZE_ANY_EXHDR(client_id), secret_len = VARSIZE_ANY_EXHDR(secret);
  if (id_len == 0 || id_len > secret_len || CRYPTO_memcmp(VARDATA_ANY(client_id), VARDATA_ANY(secret), id_len) != 0)
    refuse_credentials("the client secret does not belong to the client id");

  size_t parsed_id_len = 0;
  if (core::parse_key(std::string_view(VARDATA_ANY(secret), secret_len), &parsed_id_len) && parsed_id_len != id_len)
    refuse_credentials("the client secret does not belong to the client id");

  // The same check as apikeys.verify; the answer's code is the reason given.
  Verdict v;
  apikeys::glue::Presented presented;
  presented.key = PointerGetDatum(secret);
  presented.key_null = false;
  presented.client_ip_null = PG_NARGS() < 4 || PG_ARGISNULL(3);
  presented.client_ip = presented.client_ip_null ? (Datum)0 : PG_GETARG_DATUM(3);
  apikeys::glue::verify_presented_key(presented, &v);
  if (!v.valid()) refuse_credentials(core::code_text(v.code));

  // Claims in UTF-8.
  std::string_view tenant = utf8_view(v.tenant_id);
  std::string_view owner = v.owner ? utf8_view(v.owner) : std::string_view();
  int np;
  std::string_view *perms = apikeys::glue::text_array_views(v.permissions, &np);
  for (int i = 0; i < np; i++)
    if (perms[i].data() == nullptr) perms[i] = std::string_view("", 0);

  // Times: iat = nbf = now (whole seconds); exp = now + ttl, never past the key's expiry.
  int64 now_us = unix_us(GetCurrentTransactionStartTimestamp());
  int64 exp_us = now_us + static_cast<int64>(ttl_us);
  if (v.has_expiry && !TIMESTAMP_NOT_FINITE(v.expires_at) && unix_us(v.expires_at) < exp_us)
    exp_us = unix_us(v.expires_at);
  int64 iat = floor_div(now_us, USECS_PER_SEC), exp = floor_div(exp_us, USECS_PER_SEC);
  const char *issuer = token_issuer();

  // The current signing key, straight from the cache: nothing below reloads it.
  apikeys::glue::load_signing_keys();
  const apikeys::glue::SigningKey *key = apikeys::glue::current_signing_key();
  if (key == nullptr)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("there is no current signing key"),
                    errhint("Create one with apikeys.add_signing_key()."), errhidestmt(true)));

  // The token: field 0 of the outbox.
  CoreFailure fail;
  bool ok = run_core(
      [&] {
        outbox().clear();
        jwt::Claims c;
        c.iss = issuer;
        c.key_id = v.key_id;
        c.tenant.assign(tenant);
        c.has_owner = v.owner != nullptr;
        if (c.has_owner) c.owner.assign(owner);
        c.has_key_set = v.has_set;
        c.key_set_id = v.key_set_id;
        c.perms.reserve(np);
        for (int i = 0; i < np; i++) c.perms.emplace_back(perms[i]);
        c.has_rate = v.key_rate.limit > 0 || v.tenant_rate.limit > 0;
        c.rate[0] = v.key_rate.limit;
        c.rate[1] = v.key_rate.window_us;
        c.rate[2] = v.tenant_rate.limit;
        c.rate[3] = v.tenant_rate.window_us;
        c.has_ips = v.allowed_ips.set();
        if (c.has_ips) c.ips.assign(v.allowed_ips.networks, v.allowed_ips.networks + v.allowed_ips.n);
        c.iat = c.nbf = iat;
        c.exp = exp;
        c.has_iat = c.has_nbf = true;
        outbox().put(jwt::sign(std::string_view(key->kid, key->kid_len), apikeys::glue::key_view(*key), c));
      },
      &fail);
  if (!ok) report(fail);
  text *result = apikeys::glue::outbox_text(0);
  outbox().clear();
  PG_RETURN_TEXT_P(result);
}

}  // namespace

namespace apikeys::glue {

void tokens_init() {
  DefineCustomStringVariable("apikeys.token_issuer", "Issuer (iss) of the access tokens apikeys issues and accepts.",
                             "Tokens whose iss differs answer WRONG_ISSUER.", &token_issuer_value, "apikeys", PGC_SUSET,
                             0, nullptr, nullptr, nullptr);
}

}  // namespace apikeys::glue

// Exchanges client credentials (the client id and the whole key) for a signed access token.
// Every error it raises hides the statement and its context from the server log, since the
// statement may hold the secret.
APIKEYS_FUNCTION(apikeys_issue_token) {
  MemoryContext cxt = CurrentMemoryContext;
  Datum result = (Datum)0;
  PG_TRY();
  { result = issue_token_impl(fcinfo); }
  PG_CATCH();
  {
    MemoryContextSwitchTo(cxt);
    ErrorData *edata = CopyErrorData();
    FlushErrorState();
    edata->hide_stmt = true;
    edata->hide_ctx = true;
    ReThrowError(edata);
  }
  PG_END_TRY();
  PG_RETURN_DATUM(result);
}

// Checks an access token: signature with the kid's signing key, algorithm pinned, exp,
// nbf/iat, issuer; with check_revocation also the key's current state.
APIKEYS_FUNCTION(apikeys_verify_token) {
  Verdict v;
  verify_token_arg(fcinfo, PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1), 2, &v);
  count_token_answer(v);
  PG_RETURN_DATUM(apikeys::glue::verification_datum(fcinfo, v));
}

// Verifies a token and, on VALID, binds its key to the transaction (as apikeys.authenticate).
APIKEYS_FUNCTION(apikeys_authenticate_token) {
  Verdict v;
  verify_token_arg(fcinfo, false, 1, &v);
  count_token_answer(v);
  apikeys::glue::bind_or_clear(v);
  PG_RETURN_DATUM(apikeys::glue::verification_datum(fcinfo, v));
}
