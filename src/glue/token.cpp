// Access tokens (client credentials -> JWT): issue_token, verify_token, authenticate_token,
// the signing-key cache, and the helpers the SQL management functions use.
//
// verify_token reads no table on its hot path: the signing keys live in backend memory,
// keyed by kid, and are reloaded after a relcache invalidation of apikeys.signing_keys (its
// statement trigger sends one with every change; commit records carry it to other backends
// and to hot standbys).
#include "../core/jwt.hpp"
#include "glue.hpp"

#include <cstdlib>

extern "C" {
#include "access/detoast.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(apikeys_new_signing_key);
PG_FUNCTION_INFO_V1(apikeys_issue_token);
PG_FUNCTION_INFO_V1(apikeys_verify_token);
PG_FUNCTION_INFO_V1(apikeys_authenticate_token);
}

namespace core = apikeys::core;
namespace jwt = apikeys::core::jwt;
using apikeys::glue::CoreFailure;
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

// ---- the signing-key cache -----------------------------------------------------------------

// One non-retired row of apikeys.signing_keys, in the cache's memory context.
struct CachedKey {
  char *kid;
  size_t kid_len;
  jwt::Alg alg;
  bool current;
  unsigned char *secret;
  size_t secret_len;
  unsigned char *public_key;
  size_t public_key_len;
};

struct KeyCache {
  bool valid;
  uint64 generation;  // bumped by every invalidation, so a load that raced one is redone
  Oid relid;
  MemoryContext cxt;
  CachedKey *keys;
  int nkeys;
  int current;  // index of the current key, or -1
};
KeyCache kc = {false, 0, InvalidOid, nullptr, nullptr, 0, -1};
bool kc_callback_registered = false;

void signing_keys_callback(Datum, Oid relid) {
  if (relid == InvalidOid || relid == kc.relid) {
    kc.valid = false;
    kc.generation++;
  }
}

// Forgets the cached keys, wiping their secrets first.
void drop_cached_keys() {
  for (int i = 0; i < kc.nkeys; i++) explicit_bzero(kc.keys[i].secret, kc.keys[i].secret_len);
  kc.keys = nullptr;
  kc.nkeys = 0;
  kc.current = -1;
  if (kc.cxt) MemoryContextReset(kc.cxt);
}

AttrNumber signing_attnum(Oid relid, const char *name) {
  AttrNumber n = get_attnum(relid, name);
  if (n == InvalidAttrNumber)
    ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN), errmsg("column %s of apikeys.signing_keys does not exist", name)));
  return n;
}

unsigned char *copy_bytes(Datum d, size_t *len) {
  bytea *b = DatumGetByteaPP(d);
  *len = VARSIZE_ANY_EXHDR(b);
  auto *out = static_cast<unsigned char *>(MemoryContextAlloc(kc.cxt, *len + 1));
  memcpy(out, VARDATA_ANY(b), *len);
  return out;
}

// Reads every non-retired signing key (a handful of rows) through the latest snapshot.
void load_signing_keys() {
  if (kc.valid) return;
  if (!kc_callback_registered) {
    CacheRegisterRelcacheCallback(signing_keys_callback, (Datum)0);
    kc_callback_registered = true;
  }
  if (kc.cxt == nullptr) kc.cxt = AllocSetContextCreate(TopMemoryContext, "apikeys signing keys", ALLOCSET_SMALL_SIZES);
  for (;;) {
    uint64 generation = kc.generation;
    drop_cached_keys();
    Oid nsp = get_namespace_oid("apikeys", false);
    Oid relid = get_relname_relid("signing_keys", nsp);
    if (!OidIsValid(relid))
      ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("relation apikeys.signing_keys does not exist")));
    kc.relid = relid;
    AttrNumber a_kid = signing_attnum(relid, "kid"), a_alg = signing_attnum(relid, "alg"),
               a_secret = signing_attnum(relid, "secret"), a_public = signing_attnum(relid, "public_key"),
               a_retired = signing_attnum(relid, "retired_at"), a_current = signing_attnum(relid, "is_current");

    Relation rel = table_open(relid, AccessShareLock);
    Snapshot snap = RegisterSnapshot(GetLatestSnapshot());
    TableScanDesc scan = table_beginscan(rel, snap, 0, nullptr);
    TupleTableSlot *slot = table_slot_create(rel, nullptr);
    int cap = 8;
    kc.keys = static_cast<CachedKey *>(MemoryContextAllocZero(kc.cxt, cap * sizeof(CachedKey)));
    while (table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
      bool n_kid, n_alg, n_secret, n_public, n_retired, n_current;
      Datum kid = slot_getattr(slot, a_kid, &n_kid);
      Datum alg = slot_getattr(slot, a_alg, &n_alg);
      Datum secret = slot_getattr(slot, a_secret, &n_secret);
      Datum pub = slot_getattr(slot, a_public, &n_public);
      slot_getattr(slot, a_retired, &n_retired);
      Datum current = slot_getattr(slot, a_current, &n_current);
      if (n_kid || n_alg || n_secret || !n_retired) continue;
      text *alg_t = DatumGetTextPP(alg);
      jwt::Alg a;
      if (!jwt::parse_alg(std::string_view(VARDATA_ANY(alg_t), VARSIZE_ANY_EXHDR(alg_t)), &a)) continue;
      if (a == jwt::Alg::EdDSA && n_public) continue;
      if (kc.nkeys == cap) {
        kc.keys = static_cast<CachedKey *>(repalloc(kc.keys, 2 * cap * sizeof(CachedKey)));
        memset(kc.keys + cap, 0, cap * sizeof(CachedKey));
        cap *= 2;
      }
      CachedKey &k = kc.keys[kc.nkeys];
      text *kid_t = DatumGetTextPP(kid);
      k.kid_len = VARSIZE_ANY_EXHDR(kid_t);
      k.kid = static_cast<char *>(MemoryContextAlloc(kc.cxt, k.kid_len + 1));
      memcpy(k.kid, VARDATA_ANY(kid_t), k.kid_len);
      k.kid[k.kid_len] = '\0';
      k.alg = a;
      k.secret = copy_bytes(secret, &k.secret_len);
      if (!n_public) k.public_key = copy_bytes(pub, &k.public_key_len);
      k.current = !n_current && DatumGetBool(current);
      if (k.current) kc.current = kc.nkeys;
      kc.nkeys++;
    }
    ExecDropSingleTupleTableSlot(slot);
    table_endscan(scan);
    UnregisterSnapshot(snap);
    table_close(rel, AccessShareLock);
    if (kc.generation == generation) {
      kc.valid = true;
      return;
    }
  }
}

jwt::KeyView key_view(const CachedKey &k) {
  return jwt::KeyView{k.alg, std::string_view(reinterpret_cast<const char *>(k.secret), k.secret_len),
                      std::string_view(reinterpret_cast<const char *>(k.public_key), k.public_key_len)};
}

// The core's key lookup: by kid among the cached (non-retired) keys. No backend call.
bool cache_lookup(void *, std::string_view kid, jwt::KeyView *out) {
  for (int i = 0; i < kc.nkeys; i++) {
    const CachedKey &k = kc.keys[i];
    if (k.kid_len == kid.size() && memcmp(k.kid, kid.data(), kid.size()) == 0) {
      *out = key_view(k);
      return true;
    }
  }
  return false;
}

// ---- verification --------------------------------------------------------------------------

// What a VALID token carries, flattened into one palloc'd buffer by the core call so that
// no C++ object outlives it: strings are (offset, length) into buf; perms are stored as
// a 4-byte length followed by the bytes, one after the other.
struct FlatClaims {
  const char *code;
  int64 key_id;
  bool has_set;
  int64 key_set_id;
  int64 exp;
  size_t tenant_off, tenant_len;
  bool has_owner;
  size_t owner_off, owner_len;
  int nperms;
  size_t perms_off;
  char *buf;
  size_t cap, used;
};

size_t put_bytes(FlatClaims *f, const void *p, size_t n) {
  if (n > f->cap - f->used) throw core::Error("XX000", "token claims do not fit the verification buffer");
  memcpy(f->buf + f->used, p, n);
  size_t off = f->used;
  f->used += n;
  return off;
}

// UTF-8 claim bytes as text in the database encoding.
text *claim_text(const char *p, size_t len) {
  char *s = pg_any_to_server(p, static_cast<int>(len), PG_UTF8);
  return s == p ? cstring_to_text_with_len(p, static_cast<int>(len)) : cstring_to_text(s);
}

// Verifies the token argument; fills *v (details only when VALID). Never raises for a bad
// token; only the signing keys are read, and only when the cache was invalidated.
void verify_token_arg(FunctionCallInfo fcinfo, bool check_revocation, Verdict *v) {
  *v = Verdict{};
  v->code = "MALFORMED";
  if (PG_ARGISNULL(0)) return;
  // A string longer than any token is refused before it is even detoasted.
  if (toast_raw_datum_size(PG_GETARG_DATUM(0)) > VARHDRSZ + jwt::kMaxTokenLen) return;
  text *t = PG_GETARG_TEXT_PP(0);
  const char *tok = VARDATA_ANY(t);
  size_t len = VARSIZE_ANY_EXHDR(t);
  if (len == 0) return;

  load_signing_keys();
  const char *issuer = token_issuer();
  int64 now = floor_div(unix_us(GetCurrentTransactionStartTimestamp()), USECS_PER_SEC);
  FlatClaims f{};
  // The decoded payload is at most 3/4 of the token, and each claim string costs at most
  // twice its JSON size here.
  f.cap = 2 * len + 256;
  f.buf = static_cast<char *>(palloc(f.cap));
  CoreFailure fail;
  bool ok = run_core(
      [&] {
        jwt::VerifyOptions opt;
        opt.issuer = issuer;
        opt.now = now;
        jwt::Claims c;
        jwt::Status s = jwt::verify(std::string_view(tok, len), cache_lookup, nullptr, opt, &c);
        f.code = jwt::status_code(s);
        if (s != jwt::Status::Valid) return;
        f.key_id = c.key_id;
        f.has_set = c.has_key_set;
        f.key_set_id = c.key_set_id;
        f.exp = c.exp;
        f.tenant_off = put_bytes(&f, c.tenant.data(), c.tenant.size());
        f.tenant_len = c.tenant.size();
        f.has_owner = c.has_owner;
        if (c.has_owner) {
          f.owner_off = put_bytes(&f, c.owner.data(), c.owner.size());
          f.owner_len = c.owner.size();
        }
        f.perms_off = f.used;
        for (const std::string &p : c.perms) {
          uint32 n = static_cast<uint32>(p.size());
          put_bytes(&f, &n, sizeof n);
          put_bytes(&f, p.data(), p.size());
        }
        f.nperms = static_cast<int>(c.perms.size());
      },
      &fail);
  if (!ok) report(fail);
  v->code = f.code;
  if (f.code[0] != 'V') return;

  v->key_id = f.key_id;
  v->tenant_id = claim_text(f.buf + f.tenant_off, f.tenant_len);
  v->owner = f.has_owner ? claim_text(f.buf + f.owner_off, f.owner_len) : nullptr;
  v->has_set = f.has_set;
  v->key_set_id = f.key_set_id;
  Datum *elems = static_cast<Datum *>(palloc((f.nperms + 1) * sizeof(Datum)));
  size_t pos = f.perms_off;
  for (int i = 0; i < f.nperms; i++) {
    uint32 n;
    memcpy(&n, f.buf + pos, sizeof n);
    pos += sizeof n;
    elems[i] = PointerGetDatum(claim_text(f.buf + pos, n));
    pos += n;
  }
  v->permissions = construct_array(elems, f.nperms, TEXTOID, -1, false, TYPALIGN_INT);
  v->has_expiry = true;
  v->expires_at = from_unix_seconds(f.exp);
  pfree(f.buf);

  if (check_revocation) {
    const char *state = apikeys::glue::key_state(v->key_id);
    if (state[0] != 'V') {
      *v = Verdict{};
      v->code = state;
    }
  }
}

// ---- issuing -------------------------------------------------------------------------------

[[noreturn]] void refuse_credentials(const char *why) {
  ereport(ERROR, (errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION), errmsg("client credentials refused: %s", why),
                  errhidestmt(true), errhidecontext(true)));
  pg_unreachable();
}

// Text in the database encoding as UTF-8 bytes (a view or a palloc'd copy).
void utf8_view(text *t, const char **p, size_t *len) {
  const char *s = VARDATA_ANY(t);
  int n = VARSIZE_ANY_EXHDR(t);
  char *u = pg_server_to_any(s, n, PG_UTF8);
  *p = u;
  *len = u == s ? static_cast<size_t>(n) : strlen(u);
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
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("ttl must be a positive interval"),
                    errhidestmt(true)));
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
  apikeys::glue::verify_presented_key(PointerGetDatum(secret), false, (Datum)0, true, &v);
  if (v.code[0] != 'V') refuse_credentials(v.code);

  // Claims in UTF-8.
  const char *tenant, *owner = nullptr;
  size_t tenant_len, owner_len = 0;
  utf8_view(v.tenant_id, &tenant, &tenant_len);
  if (v.owner) utf8_view(v.owner, &owner, &owner_len);
  Datum *pv;
  bool *pn;
  int np;
  deconstruct_array(v.permissions, TEXTOID, -1, false, TYPALIGN_INT, &pv, &pn, &np);
  const char **perm = static_cast<const char **>(palloc((np + 1) * sizeof(char *)));
  size_t *perm_len = static_cast<size_t *>(palloc((np + 1) * sizeof(size_t)));
  for (int i = 0; i < np; i++) {
    text *p = pn[i] ? nullptr : DatumGetTextPP(pv[i]);
    perm[i] = p ? VARDATA_ANY(p) : "";
    perm_len[i] = p ? VARSIZE_ANY_EXHDR(p) : 0;
  }

  // Times: iat = nbf = now (whole seconds); exp = now + ttl, never past the key's expiry.
  TimestampTz now = GetCurrentTransactionStartTimestamp();
  int64 now_us = unix_us(now);
  int64 exp_us = now_us + static_cast<int64>(ttl_us);
  if (v.has_expiry && !TIMESTAMP_NOT_FINITE(v.expires_at) && unix_us(v.expires_at) < exp_us)
    exp_us = unix_us(v.expires_at);
  int64 iat = floor_div(now_us, USECS_PER_SEC), exp = floor_div(exp_us, USECS_PER_SEC);
  const char *issuer = token_issuer();

  // The current signing key, straight from the cache: nothing below reloads it.
  load_signing_keys();
  if (kc.current < 0)
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE), errmsg("there is no current signing key"),
                    errhint("Create one with apikeys.add_signing_key()."), errhidestmt(true)));
  const CachedKey &key = kc.keys[kc.current];

  char *out = nullptr;
  size_t out_len = 0;
  CoreFailure fail;
  bool ok = run_core(
      [&] {
        jwt::Claims c;
        c.iss = issuer;
        c.key_id = v.key_id;
        c.tenant.assign(tenant, tenant_len);
        c.has_owner = owner != nullptr;
        if (owner) c.owner.assign(owner, owner_len);
        c.has_key_set = v.has_set;
        c.key_set_id = v.key_set_id;
        c.perms.reserve(np);
        for (int i = 0; i < np; i++) c.perms.emplace_back(perm[i], perm_len[i]);
        c.iat = c.nbf = iat;
        c.exp = exp;
        c.has_iat = c.has_nbf = true;
        std::string token = jwt::sign(std::string_view(key.kid, key.kid_len), key_view(key), c);
        out = static_cast<char *>(std::malloc(token.size()));
        if (out == nullptr) throw std::bad_alloc();
        memcpy(out, token.data(), token.size());
        out_len = token.size();
      },
      &fail);
  if (!ok) report(fail);
  text *result = nullptr;
  PG_TRY();
  {
    result = cstring_to_text_with_len(out, static_cast<int>(out_len));
  }
  PG_CATCH();
  {
    std::free(out);
    PG_RE_THROW();
  }
  PG_END_TRY();
  explicit_bzero(out, out_len);
  std::free(out);
  PG_RETURN_TEXT_P(result);
}

}  // namespace

void apikeys::glue::define_token_settings() {
  DefineCustomStringVariable("apikeys.token_issuer", "Issuer (iss) of the access tokens apikeys issues and accepts.",
                             "Tokens whose iss differs answer WRONG_ISSUER.", &token_issuer_value, "apikeys",
                             PGC_SUSET, 0, nullptr, nullptr, nullptr);
}

// New key material for apikeys.add_signing_key: (kid, secret, public_key).
Datum apikeys_new_signing_key(PG_FUNCTION_ARGS) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "return type must be a row type");
  text *alg_t = PG_GETARG_TEXT_PP(0);
  jwt::Alg alg;
  if (!jwt::parse_alg(std::string_view(VARDATA_ANY(alg_t), VARSIZE_ANY_EXHDR(alg_t)), &alg))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("signing algorithm must be HS256 or EdDSA (got \"%s\")", text_to_cstring(alg_t))));
  char kid[jwt::kMaxKidLen + 1] = {0};
  unsigned char secret[jwt::kHs256MinSecretLen];
  unsigned char pub[jwt::kEd25519KeyLen];
  size_t secret_len = 0, pub_len = 0;
  static_assert(jwt::kEd25519KeyLen <= sizeof secret, "secret buffer");
  CoreFailure fail;
  bool ok = run_core(
      [&] {
        jwt::NewSigningKey k = jwt::generate_signing_key(alg);
        if (k.kid.size() > jwt::kMaxKidLen || k.secret.size() > sizeof secret || k.public_key.size() > sizeof pub)
          throw core::Error("XX000", "unexpected signing key size");
        memcpy(kid, k.kid.data(), k.kid.size());
        memcpy(secret, k.secret.data(), k.secret.size());
        memcpy(pub, k.public_key.data(), k.public_key.size());
        secret_len = k.secret.size();
        pub_len = k.public_key.size();
        OPENSSL_cleanse(&k.secret[0], k.secret.size());
      },
      &fail);
  if (!ok) report(fail);
  bytea *s = static_cast<bytea *>(palloc(VARHDRSZ + secret_len));
  SET_VARSIZE(s, VARHDRSZ + secret_len);
  memcpy(VARDATA(s), secret, secret_len);
  explicit_bzero(secret, sizeof secret);
  Datum values[3] = {CStringGetTextDatum(kid), PointerGetDatum(s), (Datum)0};
  bool nulls[3] = {false, false, pub_len == 0};
  if (pub_len > 0) {
    bytea *p = static_cast<bytea *>(palloc(VARHDRSZ + pub_len));
    SET_VARSIZE(p, VARHDRSZ + pub_len);
    memcpy(VARDATA(p), pub, pub_len);
    values[2] = PointerGetDatum(p);
  }
  PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

// Exchanges client credentials (the client id and the whole key) for a signed access token.
// Every error it raises hides the statement and its context from the server log, since the
// statement may hold the secret.
Datum apikeys_issue_token(PG_FUNCTION_ARGS) {
  MemoryContext cxt = CurrentMemoryContext;
  Datum result = (Datum)0;
  PG_TRY();
  {
    result = issue_token_impl(fcinfo);
  }
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
Datum apikeys_verify_token(PG_FUNCTION_ARGS) {
  Verdict v;
  verify_token_arg(fcinfo, PG_NARGS() > 1 && !PG_ARGISNULL(1) && PG_GETARG_BOOL(1), &v);
  PG_RETURN_DATUM(apikeys::glue::verification_datum(fcinfo, v));
}

// Verifies a token and, on VALID, binds its key to the transaction (as apikeys.authenticate).
Datum apikeys_authenticate_token(PG_FUNCTION_ARGS) {
  Verdict v;
  verify_token_arg(fcinfo, false, &v);
  if (v.code[0] == 'V')
    apikeys::glue::bind(v);
  else
    apikeys::glue::clear_binding();
  PG_RETURN_DATUM(apikeys::glue::verification_datum(fcinfo, v));
}
