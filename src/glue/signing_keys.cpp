// The signing-key cache, and new key material for apikeys.add_signing_key.
#include "signing_keys.hpp"

#include <openssl/crypto.h>

#include "relcache.hpp"
#include "writes.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
}

namespace core = apikeys::core;
namespace jwt = apikeys::core::jwt;
namespace relcache = apikeys::glue::relcache;
using apikeys::glue::CoreFailure;
using apikeys::glue::outbox;
using apikeys::glue::report;
using apikeys::glue::run_core;
using apikeys::glue::SigningKey;

namespace {

// 1.1 kept the secret in signing_keys ("?secret"); since 1.2 it is in signing_secrets.
enum Column { kKid, kAlg, kSecret, kPublicKey, kRetiredAt, kIsCurrent };
relcache::Table signing_keys = {
    "signing_keys", {"kid", "alg", "?secret", "public_key", "retired_at", "is_current", nullptr}, {nullptr}};
enum SecretColumn { kSecretKid, kSecretValue };
relcache::Table signing_secrets = {"signing_secrets", {"kid", "secret", nullptr}, {nullptr}};

// Whether the secrets have a table of their own (a 1.2 schema).
bool secrets_apart() { return signing_keys.att[kSecret] == InvalidAttrNumber; }

// The generation of what the cache was read from.
uint64 generation_now() { return signing_keys.generation + (secrets_apart() ? signing_secrets.generation : 0); }

struct Cache {
  bool valid;
  bool parallel;      // read in parallel mode, with a statement's snapshot
  uint64 generation;  // signing_keys.generation it was read under
  MemoryContext cxt;
  SigningKey *keys;
  int nkeys;
  int current;  // index of the current key, or -1
};
Cache cache = {false, false, 0, nullptr, nullptr, 0, -1};

// Forgets the cached keys, wiping their secrets first.
void drop_cached_keys() {
  for (int i = 0; i < cache.nkeys; i++) explicit_bzero(cache.keys[i].secret, cache.keys[i].secret_len);
  cache.keys = nullptr;
  cache.nkeys = 0;
  cache.current = -1;
  cache.valid = false;
  if (cache.cxt) MemoryContextReset(cache.cxt);
}

unsigned char *copy_bytes(Datum d, size_t *len) {
  bytea *b = DatumGetByteaPP(d);
  *len = VARSIZE_ANY_EXHDR(b);
  auto *out = static_cast<unsigned char *>(MemoryContextAlloc(cache.cxt, *len + 1));
  memcpy(out, VARDATA_ANY(b), *len);
  return out;
}

// Reads every non-retired signing key (a handful of rows).
void read_keys(Snapshot snapshot) {
  drop_cached_keys();
  const AttrNumber *att = signing_keys.att;
  Relation rel = table_open(signing_keys.relid, AccessShareLock);
  Snapshot snap = RegisterSnapshot(snapshot);
  TableScanDesc scan = table_beginscan(rel, snap, 0, nullptr);
  TupleTableSlot *slot = table_slot_create(rel, nullptr);
  int cap = 8;
  cache.keys = static_cast<SigningKey *>(MemoryContextAllocZero(cache.cxt, cap * sizeof(SigningKey)));
  while (table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
    bool n_kid, n_alg, n_secret, n_public, n_retired, n_current;
    Datum kid = slot_getattr(slot, att[kKid], &n_kid);
    Datum alg = slot_getattr(slot, att[kAlg], &n_alg);
    Datum secret = (Datum)0;
    n_secret = true;
    if (!secrets_apart()) {
      secret = slot_getattr(slot, att[kSecret], &n_secret);
    } else if (!n_kid) {
      relcache::probe_unique(signing_secrets.relid, signing_secrets.pkey, F_TEXTEQ, kid, snap, [&](TupleTableSlot *s) {
        secret = slot_getattr(s, signing_secrets.att[kSecretValue], &n_secret);
        if (!n_secret) secret = PointerGetDatum(PG_DETOAST_DATUM_COPY(secret));  // outlives the probe
      });
    }
    Datum pub = slot_getattr(slot, att[kPublicKey], &n_public);
    slot_getattr(slot, att[kRetiredAt], &n_retired);
    Datum current = slot_getattr(slot, att[kIsCurrent], &n_current);
    if (n_kid || n_alg || n_secret || !n_retired) continue;
    jwt::Alg a;
    if (!jwt::parse_alg(apikeys::glue::text_view(alg), &a)) continue;
    if (a == jwt::Alg::EdDSA && n_public) continue;
    if (cache.nkeys == cap) {
      cache.keys = static_cast<SigningKey *>(repalloc(cache.keys, 2 * cap * sizeof(SigningKey)));
      memset(cache.keys + cap, 0, cap * sizeof(SigningKey));
      cap *= 2;
    }
    SigningKey &k = cache.keys[cache.nkeys];
    text *kid_t = DatumGetTextPP(kid);
    k.kid_len = VARSIZE_ANY_EXHDR(kid_t);
    k.kid = static_cast<char *>(MemoryContextAlloc(cache.cxt, k.kid_len + 1));
    memcpy(k.kid, VARDATA_ANY(kid_t), k.kid_len);
    k.kid[k.kid_len] = '\0';
    k.alg = a;
    k.secret = copy_bytes(secret, &k.secret_len);
    if (secrets_apart()) {
      bytea *b = DatumGetByteaPP(secret);
      explicit_bzero(VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));  // the probe's copy
    }
    if (!n_public) k.public_key = copy_bytes(pub, &k.public_key_len);
    k.current = !n_current && DatumGetBool(current);
    if (k.current) cache.current = cache.nkeys;
    cache.nkeys++;
  }
  ExecDropSingleTupleTableSlot(slot);
  table_endscan(scan);
  UnregisterSnapshot(snap);
  table_close(rel, AccessShareLock);
}

// New key material from the CSPRNG into fields 0-2 of the outbox: kid, secret, public key
// (empty for HS256).
void generate_into_outbox(jwt::Alg alg) {
  CoreFailure fail;
  bool ok = run_core(
      [&] {
        outbox().clear();
        jwt::NewSigningKey k = jwt::generate_signing_key(alg);
        outbox().put(k.kid);
        outbox().put(k.secret);
        outbox().put(k.public_key);
        OPENSSL_cleanse(&k.secret[0], k.secret.size());
      },
      &fail);
  if (!ok) report(fail);
}

}  // namespace

namespace apikeys::glue {

void signing_keys_init() {
  relcache::watch(&signing_keys);
  relcache::watch(&signing_secrets);
}

void load_signing_keys() {
  relcache::accept_invalidations();
  relcache::resolve(&signing_keys);
  if (secrets_apart()) relcache::resolve(&signing_secrets);
  bool parallel = !relcache::cacheable();
  if (cache.valid && cache.parallel == parallel && cache.generation == generation_now()) return;
  if (cache.cxt == nullptr)
    cache.cxt = AllocSetContextCreate(TopMemoryContext, "apikeys signing keys", ALLOCSET_SMALL_SIZES);
  for (;;) {
    uint64 generation = generation_now();
    read_keys(relcache::fresh_snapshot());
    relcache::resolve(&signing_keys);  // the scan's lock may have accepted an invalidation
    if (secrets_apart()) relcache::resolve(&signing_secrets);
    if (generation_now() == generation) break;
  }
  cache.valid = true;
  cache.parallel = parallel;
  cache.generation = generation_now();
}

const SigningKey *current_signing_key() { return cache.current < 0 ? nullptr : &cache.keys[cache.current]; }

jwt::KeyView key_view(const SigningKey &k) noexcept {
  return jwt::KeyView{k.alg, std::string_view(reinterpret_cast<const char *>(k.secret), k.secret_len),
                      std::string_view(reinterpret_cast<const char *>(k.public_key), k.public_key_len)};
}

bool signing_key_lookup(void *, std::string_view kid, jwt::KeyView *out) noexcept {
  for (int i = 0; i < cache.nkeys; i++) {
    const SigningKey &k = cache.keys[i];
    if (k.kid_len == kid.size() && memcmp(k.kid, kid.data(), kid.size()) == 0) {
      *out = key_view(k);
      return true;
    }
  }
  return false;
}

}  // namespace apikeys::glue

// apikeys._insert_signing_key(alg, make_current): a new signing key from the CSPRNG, written
// from C (the signing_keys row, then its signing_secrets row), so that no statement, plan,
// constant or parameter ever carries the secret. Returns the kid.
APIKEYS_FUNCTION(apikeys_insert_signing_key) {
  text *alg_t = PG_GETARG_TEXT_PP(0);
  bool make_current = PG_GETARG_BOOL(1);
  jwt::Alg alg;
  if (!jwt::parse_alg(std::string_view(VARDATA_ANY(alg_t), VARSIZE_ANY_EXHDR(alg_t)), &alg))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("signing algorithm must be HS256 or EdDSA (got \"%s\")", text_to_cstring(alg_t))));
  relcache::resolve(&signing_keys);
  if (!secrets_apart())
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("apikeys needs ALTER EXTENSION apikeys UPDATE before it can add signing keys")));
  relcache::resolve(&signing_secrets);
  generate_into_outbox(alg);
  bool has_public = !outbox().get(2).empty();
  text *kid = apikeys::glue::outbox_text(0);
  bytea *secret = apikeys::glue::outbox_bytea(1);
  bytea *public_key = has_public ? apikeys::glue::outbox_bytea(2) : nullptr;
  outbox().clear();

  apikeys::glue::NewRow key;
  key.set(signing_keys.att[kKid], PointerGetDatum(kid));
  key.set(signing_keys.att[kAlg], PointerGetDatum(alg_t));
  key.set(signing_keys.att[kPublicKey], PointerGetDatum(public_key), public_key == nullptr);
  key.set(signing_keys.att[kIsCurrent], BoolGetDatum(make_current));
  apikeys::glue::insert_row(&signing_keys, &key);
  apikeys::glue::NewRow row;
  row.set(signing_secrets.att[kSecretKid], PointerGetDatum(kid));
  row.set(signing_secrets.att[kSecretValue], PointerGetDatum(secret));
  apikeys::glue::insert_row(&signing_secrets, &row);
  explicit_bzero(VARDATA(secret), VARSIZE(secret) - VARHDRSZ);
  // Rows written without a statement fire no statement trigger: the caches are told here.
  CacheInvalidateRelcacheByRelid(signing_keys.relid);
  CacheInvalidateRelcacheByRelid(signing_secrets.relid);
  PG_RETURN_TEXT_P(kid);
}

// New key material as 1.0's and 1.1's add_signing_key made it: (kid, secret, public_key).
// Only their frozen install scripts still call it (1.2 drops apikeys._new_signing_key, whose
// result put the secret into a statement).
APIKEYS_FUNCTION(apikeys_new_signing_key) {
  TupleDesc desc;
  if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) elog(ERROR, "return type must be a row type");
  text *alg_t = PG_GETARG_TEXT_PP(0);
  jwt::Alg alg;
  if (!jwt::parse_alg(std::string_view(VARDATA_ANY(alg_t), VARSIZE_ANY_EXHDR(alg_t)), &alg))
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("signing algorithm must be HS256 or EdDSA (got \"%s\")", text_to_cstring(alg_t))));
  generate_into_outbox(alg);
  bool has_public = !outbox().get(2).empty();
  Datum values[3] = {PointerGetDatum(apikeys::glue::outbox_text(0)), PointerGetDatum(apikeys::glue::outbox_bytea(1)),
                     has_public ? PointerGetDatum(apikeys::glue::outbox_bytea(2)) : (Datum)0};
  outbox().clear();
  bool nulls[3] = {false, false, !has_public};
  HeapTuple tup = heap_form_tuple(BlessTupleDesc(desc), values, nulls);
  explicit_bzero(VARDATA(DatumGetPointer(values[1])), VARSIZE(DatumGetPointer(values[1])) - VARHDRSZ);
  PG_RETURN_DATUM(HeapTupleGetDatum(tup));
}
