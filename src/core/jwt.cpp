// Access tokens: base64url, compact JWS with HS256 (HMAC-SHA-256) and EdDSA (Ed25519), and
// the claims apikeys issues. Verification answers a Status and never throws for a bad token.
#include "jwt.hpp"

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <new>
#include <unordered_set>

namespace apikeys::core::jwt {

using json = nlohmann::json;

// ---- base64url ------------------------------------------------------------------------------

namespace {

constexpr char kB64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> make_b64_table() {
  std::array<int8_t, 256> t{};
  for (auto &v : t) v = -1;
  for (int i = 0; i < 64; i++) t[static_cast<unsigned char>(kB64Url[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kB64Table = make_b64_table();

}  // namespace

std::string b64url_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  size_t i = 0;
  const auto *p = reinterpret_cast<const unsigned char *>(data.data());
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    out.push_back(kB64Url[v >> 18]);
    out.push_back(kB64Url[(v >> 12) & 63]);
    out.push_back(kB64Url[(v >> 6) & 63]);
    out.push_back(kB64Url[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{p[i]} << 16;
    out.push_back(kB64Url[v >> 18]);
    out.push_back(kB64Url[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8);
    out.push_back(kB64Url[v >> 18]);
    out.push_back(kB64Url[(v >> 12) & 63]);
    out.push_back(kB64Url[(v >> 6) & 63]);
  }
  return out;
}

bool b64url_decode(std::string_view in, std::string *out) {
  size_t full = in.size() / 4, rest = in.size() % 4;
  if (rest == 1) {
    out->clear();
    return false;
  }
  out->resize(full * 3 + (rest ? rest - 1 : 0));
  auto *o = reinterpret_cast<unsigned char *>(&(*out)[0]);
  const auto *p = reinterpret_cast<const unsigned char *>(in.data());
  for (size_t i = 0; i < full; i++, p += 4) {
    int a = kB64Table[p[0]], b = kB64Table[p[1]], c = kB64Table[p[2]], d = kB64Table[p[3]];
    if ((a | b | c | d) < 0) {
      out->clear();
      return false;
    }
    uint32_t v = (static_cast<uint32_t>(a) << 18) | (static_cast<uint32_t>(b) << 12) | (static_cast<uint32_t>(c) << 6) |
                 static_cast<uint32_t>(d);
    *o++ = static_cast<unsigned char>(v >> 16);
    *o++ = static_cast<unsigned char>(v >> 8);
    *o++ = static_cast<unsigned char>(v);
  }
  // The 4 or 2 bits left over in the last character must be zero: otherwise another string
  // decodes to the same bytes.
  bool ok = true;
  if (rest == 2) {
    int a = kB64Table[p[0]], b = kB64Table[p[1]];
    ok = (a | b) >= 0 && (b & 15) == 0;
    if (ok) *o = static_cast<unsigned char>((a << 2) | (b >> 4));
  } else if (rest == 3) {
    int a = kB64Table[p[0]], b = kB64Table[p[1]], c = kB64Table[p[2]];
    ok = (a | b | c) >= 0 && (c & 3) == 0;
    if (ok) {
      uint32_t v =
          (static_cast<uint32_t>(a) << 18) | (static_cast<uint32_t>(b) << 12) | (static_cast<uint32_t>(c) << 6);
      o[0] = static_cast<unsigned char>(v >> 16);
      o[1] = static_cast<unsigned char>(v >> 8);
    }
  }
  if (!ok) out->clear();
  return ok;
}

// ---- algorithms and keys ----------------------------------------------------------------

const char *alg_name(Alg a) noexcept { return a == Alg::HS256 ? "HS256" : "EdDSA"; }

bool parse_alg(std::string_view name, Alg *out) noexcept {
  if (name == "HS256") {
    *out = Alg::HS256;
    return true;
  }
  if (name == "EdDSA") {
    *out = Alg::EdDSA;
    return true;
  }
  return false;
}

bool valid_kid(std::string_view kid) noexcept {
  if (kid.empty() || kid.size() > kMaxKidLen) return false;
  for (unsigned char c : kid)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY *p) const noexcept { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX *p) const noexcept { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX *p) const noexcept { EVP_MD_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

[[noreturn]] void openssl_failed(const char *what) {
  ERR_clear_error();
  throw Error("XX000", what);
}

const unsigned char *bytes(std::string_view s) noexcept { return reinterpret_cast<const unsigned char *>(s.data()); }

PkeyPtr ed25519_private(std::string_view private_key) {
  if (private_key.size() != kEd25519KeyLen) throw Error("22023", "an Ed25519 private key has 32 bytes");
  PkeyPtr k(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, bytes(private_key), private_key.size()));
  if (!k) openssl_failed("could not load the Ed25519 private key");
  return k;
}

std::string random_string(size_t n) {
  std::string s(n, '\0');
  random_bytes(reinterpret_cast<unsigned char *>(&s[0]), n);
  return s;
}

}  // namespace

NewSigningKey generate_signing_key(Alg alg) {
  NewSigningKey k;
  k.kid = random_base62(16);
  if (alg == Alg::HS256) {
    k.secret = random_string(kHs256MinSecretLen);
    return k;
  }
  ERR_clear_error();
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1) openssl_failed("could not set up Ed25519 key generation");
  EVP_PKEY *raw = nullptr;
  if (EVP_PKEY_keygen(ctx.get(), &raw) != 1) openssl_failed("could not generate an Ed25519 key");
  PkeyPtr pkey(raw);
  k.secret.assign(kEd25519KeyLen, '\0');
  k.public_key.assign(kEd25519KeyLen, '\0');
  size_t plen = kEd25519KeyLen, qlen = kEd25519KeyLen;
  if (EVP_PKEY_get_raw_private_key(pkey.get(), reinterpret_cast<unsigned char *>(&k.secret[0]), &plen) != 1 ||
      EVP_PKEY_get_raw_public_key(pkey.get(), reinterpret_cast<unsigned char *>(&k.public_key[0]), &qlen) != 1 ||
      plen != kEd25519KeyLen || qlen != kEd25519KeyLen)
    openssl_failed("could not read the Ed25519 key");
  return k;
}

std::string ed25519_public_key(std::string_view private_key) {
  ERR_clear_error();
  PkeyPtr k = ed25519_private(private_key);
  std::string pub(kEd25519KeyLen, '\0');
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(k.get(), reinterpret_cast<unsigned char *>(&pub[0]), &len) != 1 ||
      len != kEd25519KeyLen)
    openssl_failed("could not derive the Ed25519 public key");
  return pub;
}

std::string ed25519_sign(std::string_view private_key, std::string_view message) {
  ERR_clear_error();
  PkeyPtr k = ed25519_private(private_key);
  MdCtxPtr md(EVP_MD_CTX_new());
  if (!md || EVP_DigestSignInit(md.get(), nullptr, nullptr, nullptr, k.get()) != 1)
    openssl_failed("could not set up Ed25519 signing");
  std::string sig(kEd25519SigLen, '\0');
  size_t len = sig.size();
  if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char *>(&sig[0]), &len, bytes(message), message.size()) != 1 ||
      len != kEd25519SigLen)
    openssl_failed("Ed25519 signing failed");
  return sig;
}

bool ed25519_verify(std::string_view public_key, std::string_view message, std::string_view signature) noexcept {
  if (public_key.size() != kEd25519KeyLen || signature.size() != kEd25519SigLen) return false;
  ERR_clear_error();
  PkeyPtr k(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes(public_key), public_key.size()));
  MdCtxPtr md(k ? EVP_MD_CTX_new() : nullptr);
  bool ok = md && EVP_DigestVerifyInit(md.get(), nullptr, nullptr, nullptr, k.get()) == 1 &&
            EVP_DigestVerify(md.get(), bytes(signature), signature.size(), bytes(message), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

// ---- signing ----------------------------------------------------------------------------

namespace {

std::string signature_of(const KeyView &key, std::string_view signing_input) {
  if (key.alg == Alg::HS256) {
    if (key.secret.size() < kHs256MinSecretLen) throw Error("22023", "an HS256 secret has at least 32 bytes");
    unsigned char mac[kHashLen];
    hmac_sha256(key.secret, signing_input, mac);
    return std::string(reinterpret_cast<const char *>(mac), sizeof mac);
  }
  return ed25519_sign(key.secret, signing_input);
}

}  // namespace

std::string sign_compact(std::string_view header, std::string_view payload, const KeyView &key) {
  std::string token = b64url_encode(header);
  token.push_back('.');
  token += b64url_encode(payload);
  std::string sig = signature_of(key, token);
  token.push_back('.');
  token += b64url_encode(sig);
  return token;
}

std::string sign(std::string_view kid, const KeyView &key, const Claims &c) {
  if (!valid_kid(kid)) throw Error("22023", "a signing key id is 1 to 64 of A-Z a-z 0-9 _ -");
  if (c.key_id <= 0) throw Error("22023", "a token needs a positive key id");
  auto no_nul = [](const std::string &s) {
    if (s.find('\0') != std::string::npos) throw Error("22023", "token claims must not contain NUL characters");
  };
  no_nul(c.tenant);
  no_nul(c.owner);
  no_nul(c.iss);
  for (const auto &p : c.perms) no_nul(p);

  json header = json::object();
  header["alg"] = alg_name(key.alg);
  header["kid"] = std::string(kid);
  header["typ"] = "JWT";
  json payload = json::object();
  payload["iss"] = c.iss;
  payload["sub"] = std::to_string(c.key_id);
  payload["tenant"] = c.tenant;
  if (c.has_owner) payload["owner"] = c.owner;
  if (c.has_key_set) payload["key_set_id"] = std::to_string(c.key_set_id);
  payload["perms"] = c.perms;
  if (c.has_ips) {
    json ips = json::array();
    for (const Network &n : c.ips) {
      std::string t = to_text(n);
      if (t.empty()) throw Error("22023", "a token's allowed address must be an IPv4 or IPv6 network");
      ips.push_back(std::move(t));
    }
    payload["ips"] = std::move(ips);
  }
  if (c.has_rate) {
    for (int64_t v : c.rate)
      if (v < 0) throw Error("22023", "a token's rate limit must not be negative");
    payload["rl"] = json::array({c.rate[0], c.rate[1], c.rate[2], c.rate[3]});
  }
  payload["iat"] = c.iat;
  payload["nbf"] = c.nbf;
  payload["exp"] = c.exp;
  payload["jti"] = c.jti.empty() ? b64url_encode(random_string(16)) : c.jti;

  std::string h, p;
  try {
    h = header.dump();
    p = payload.dump();
  } catch (const json::type_error &) {
    // dump() refuses strings that are not UTF-8.
    throw Error("22021", "token claims must be valid UTF-8");
  }
  if ((h.size() + p.size()) / 3 * 4 + 128 > kMaxTokenLen)
    throw Error("54000", "the token would be longer than " + std::to_string(kMaxTokenLen) +
                             " bytes: the key has too many permissions");
  return sign_compact(h, p, key);
}

// ---- verification --------------------------------------------------------------------------

const char *status_code(Status s) noexcept {
  switch (s) {
    case Status::Valid:
      return "VALID";
    case Status::Malformed:
      return "MALFORMED";
    case Status::InvalidSignature:
      return "INVALID_SIGNATURE";
    case Status::UnknownKey:
      return "UNKNOWN_KEY";
    case Status::WrongIssuer:
      return "WRONG_ISSUER";
    case Status::Expired:
      return "EXPIRED";
    case Status::NotYetValid:
      return "NOT_YET_VALID";
  }
  return "MALFORMED";
}

namespace {

// ---- reading the header and the claims: a SAX pass over the JSON, no document built ----------

// The value of a top-level member, or of an element of a top-level array.
struct Value {
  enum class Kind : uint8_t { Null, Bool, Integer, Unsigned, Float, String, Array, Object };
  Kind kind;
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  const std::string *s = nullptr;  // valid during the callback only
};

// Bounds of one JSON text: top-level members, and elements of each top-level array.
struct Bounds {
  size_t members;
  size_t elements;
};

// Walks one JSON text that must be an object: hands each top-level member's value to
// sink.member(name, value) and each element of a top-level array member to
// sink.element(name, value); deeper levels are only checked for syntax. A sink returning
// false, a syntax error (nlohmann's lexer also rejects invalid UTF-8 and non-finite
// numbers), trailing bytes, a top level that is not an object, more top-level members or
// array elements than the bounds, and a member name repeated at the top level (RFC 7515
// section 4: such a JWS is rejected) all make read() false. Repeats are found with a hash
// set: linear in the length of the names.
template <typename Sink>
class ObjectReader {
 public:
  ObjectReader(Sink &sink, Bounds bounds) : sink_(sink), bounds_(bounds) {}

  bool read(std::string_view text) { return json::sax_parse(text.begin(), text.end(), this) && done_; }

  bool null() { return scalar(Value{Value::Kind::Null}); }
  bool boolean(bool) { return scalar(Value{Value::Kind::Bool}); }
  bool number_integer(json::number_integer_t v) {
    Value x{Value::Kind::Integer};
    x.i = v;
    return scalar(x);
  }
  bool number_unsigned(json::number_unsigned_t v) {
    Value x{Value::Kind::Unsigned};
    x.u = v;
    return scalar(x);
  }
  bool number_float(json::number_float_t v, const json::string_t &) {
    Value x{Value::Kind::Float};
    x.f = v;
    return scalar(x);
  }
  bool string(json::string_t &v) {
    Value x{Value::Kind::String};
    x.s = &v;
    return scalar(x);
  }
  bool binary(json::binary_t &) { return false; }
  bool start_object(std::size_t) { return open(Value::Kind::Object); }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(Value::Kind::Array); }
  bool end_array() { return close(); }
  bool key(json::string_t &name) {
    if (depth_ != 1) return true;
    if (names_.size() == bounds_.members) return false;
    auto [it, inserted] = names_.insert(name);
    name_ = &*it;  // a node's address outlives a rehash
    return inserted;
  }
  bool parse_error(std::size_t, const std::string &, const nlohmann::detail::exception &) { return false; }

 private:
  bool scalar(const Value &v) {
    if (depth_ == 0) return false;  // the top level is not an object
    if (depth_ == 1) return sink_.member(*name_, v);
    if (depth_ == 2 && in_array_) return element(v);
    return true;
  }
  bool open(Value::Kind kind) {
    if (depth_ == 0) {
      if (kind != Value::Kind::Object) return false;
    } else if (depth_ == 1) {
      if (!sink_.member(*name_, Value{kind})) return false;
      in_array_ = kind == Value::Kind::Array;
      elements_ = 0;
    } else if (depth_ == 2 && in_array_) {
      if (!element(Value{kind})) return false;
    }
    depth_++;
    return true;
  }
  bool element(const Value &v) { return ++elements_ <= bounds_.elements && sink_.element(*name_, v); }
  bool close() {
    depth_--;
    if (depth_ == 1) in_array_ = false;
    if (depth_ == 0) done_ = true;
    return true;
  }

  Sink &sink_;
  Bounds bounds_;
  std::unordered_set<std::string> names_;  // of the top-level members so far
  const std::string *name_ = nullptr;      // the current one, in names_
  size_t elements_ = 0;                    // of the current top-level array
  int depth_ = 0;
  bool in_array_ = false;
  bool done_ = false;
};

// A NumericDate (RFC 7519): an integer or finite number of seconds, 0 .. year 9999.
bool numeric_date(const Value &v, int64_t *out) {
  switch (v.kind) {
    case Value::Kind::Unsigned:
      if (v.u > static_cast<uint64_t>(kMaxNumericDate)) return false;
      *out = static_cast<int64_t>(v.u);
      return true;
    case Value::Kind::Integer:
      if (v.i < 0 || v.i > kMaxNumericDate) return false;
      *out = v.i;
      return true;
    case Value::Kind::Float:
      if (!std::isfinite(v.f) || v.f < 0 || v.f > static_cast<double>(kMaxNumericDate)) return false;
      *out = static_cast<int64_t>(std::floor(v.f));
      return true;
    default:
      return false;
  }
}

// A positive int64 written in decimal without sign or leading zeros.
bool decimal_id(const std::string &s, int64_t *out) {
  if (s.empty() || s.size() > 19 || s[0] == '0') return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  *out = static_cast<int64_t>(v);
  return true;
}

// A JSON string without NUL characters (the claims become PostgreSQL text).
bool plain_string(const Value &v, std::string *out) {
  if (v.kind != Value::Kind::String || v.s->find('\0') != std::string::npos) return false;
  *out = *v.s;
  return true;
}

bool ascii_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// The JOSE header: string "alg", string "kid" if present, "typ" JWT if present, no "crit".
struct HeaderSink {
  bool has_alg = false;
  std::string alg, kid;
  bool member(std::string_view name, const Value &v) {
    if (name == "alg") return has_alg = plain_string(v, &alg);
    if (name == "kid") return plain_string(v, &kid);
    if (name == "typ") return v.kind == Value::Kind::String && ascii_iequal(*v.s, "JWT");
    // No extension is understood, so a token that makes one critical is refused.
    if (name == "crit") return false;
    return true;
  }
  bool element(std::string_view, const Value &) { return true; }
};

// The claims of a payload.
struct ClaimsSink {
  Claims c;
  bool require_apikeys_claims;
  std::string_view issuer;
  bool has_exp = false, has_tenant = false, has_perms = false, iss_ok = false;
  bool member(std::string_view name, const Value &v) {
    if (name == "exp") return has_exp = numeric_date(v, &c.exp);
    if (name == "nbf") return c.has_nbf = numeric_date(v, &c.nbf);
    if (name == "iat") return c.has_iat = numeric_date(v, &c.iat);
    if (name == "iss") {
      if (!plain_string(v, &c.iss)) return false;
      iss_ok = c.iss == issuer;
      return true;
    }
    if (name == "sub") {
      std::string sub;
      if (!plain_string(v, &sub)) return false;
      return decimal_id(sub, &c.key_id) || !require_apikeys_claims;
    }
    if (name == "tenant") return has_tenant = plain_string(v, &c.tenant);
    if (name == "owner") {
      if (v.kind == Value::Kind::Null) return true;
      return c.has_owner = plain_string(v, &c.owner);
    }
    if (name == "key_set_id") {
      if (v.kind == Value::Kind::Null) return true;
      std::string s;
      return c.has_key_set = plain_string(v, &s) && decimal_id(s, &c.key_set_id);
    }
    if (name == "perms") return has_perms = v.kind == Value::Kind::Array;
    if (name == "ips") return c.has_ips = v.kind == Value::Kind::Array;
    if (name == "rl") return c.has_rate = v.kind == Value::Kind::Array;
    if (name == "jti") return plain_string(v, &c.jti);
    return true;
  }
  int nrate = 0;
  bool element(std::string_view name, const Value &v) {
    if (name == "rl") {
      if (nrate == 4) return false;
      if (v.kind == Value::Kind::Unsigned && v.u <= static_cast<uint64_t>(INT64_MAX)) {
        c.rate[nrate++] = static_cast<int64_t>(v.u);
        return true;
      }
      if (v.kind == Value::Kind::Integer && v.i >= 0) {
        c.rate[nrate++] = v.i;
        return true;
      }
      return false;
    }
    if (name == "ips") {
      std::string s;
      Network n;
      if (!plain_string(v, &s) || !parse_network(s, &n)) return false;
      c.ips.push_back(n);
      return true;
    }
    if (name != "perms") return true;
    c.perms.emplace_back();
    return plain_string(v, &c.perms.back());
  }
};

// Every token a key signs has the same header bytes, so the last header that parsed is
// remembered with its encoding and reused when the next token's header segment is the same
// bytes: the memo of a pure function, compared byte for byte.
struct HeaderMemo {
  bool valid = false;
  std::string h64, alg, kid;
};
thread_local HeaderMemo header_memo;

// The longest base64url segment of a header of kMaxHeaderLen bytes.
constexpr size_t kMaxHeaderB64Len = (kMaxHeaderLen * 4 + 2) / 3;

Status verify_signature_impl(std::string_view token, KeyLookup lookup, void *ctx, std::string *payload) {
  if (token.empty() || token.size() > kMaxTokenLen) return Status::Malformed;
  size_t d1 = token.find('.');
  if (d1 == std::string_view::npos) return Status::Malformed;
  size_t d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) return Status::Malformed;
  std::string_view h64 = token.substr(0, d1), p64 = token.substr(d1 + 1, d2 - d1 - 1), s64 = token.substr(d2 + 1);
  // The header is read before the signature is checked: its length is bounded before
  // anything is decoded.
  if (h64.size() > kMaxHeaderB64Len) return Status::Malformed;
  std::string sig;
  if (!b64url_decode(p64, payload) || !b64url_decode(s64, &sig)) return Status::Malformed;

  HeaderMemo &header = header_memo;
  if (!header.valid || header.h64 != h64) {
    std::string header_text;
    if (!b64url_decode(h64, &header_text)) return Status::Malformed;
    HeaderSink parsed;
    // Its arrays are bounded by its length.
    Bounds bounds{kMaxHeaderMembers, std::numeric_limits<size_t>::max()};
    if (!ObjectReader<HeaderSink>(parsed, bounds).read(header_text) || !parsed.has_alg) return Status::Malformed;
    header.valid = false;
    header.h64.assign(h64);
    header.alg = std::move(parsed.alg);
    header.kid = std::move(parsed.kid);
    header.valid = true;
  }

  KeyView key{};
  if (!lookup(ctx, header.kid, &key)) return Status::UnknownKey;
  // The algorithm is the key's: "none", another algorithm, or the other family (an EdDSA
  // public key used as an HMAC secret) never verifies.
  if (header.alg != alg_name(key.alg)) return Status::InvalidSignature;

  std::string_view signing_input = token.substr(0, d2);
  if (key.alg == Alg::HS256) {
    if (key.secret.size() < kHs256MinSecretLen || sig.size() != kHashLen) return Status::InvalidSignature;
    unsigned char mac[kHashLen];
    hmac_sha256(key.secret, signing_input, mac);
    bool ok = ct_equal(mac, sizeof mac, reinterpret_cast<const unsigned char *>(sig.data()), sig.size());
    OPENSSL_cleanse(mac, sizeof mac);
    return ok ? Status::Valid : Status::InvalidSignature;
  }
  if (sig.size() != kEd25519SigLen) return Status::InvalidSignature;
  return ed25519_verify(key.public_key, signing_input, sig) ? Status::Valid : Status::InvalidSignature;
}

Status verify_claims_impl(std::string_view payload_text, const VerifyOptions &opt, Claims *out) {
  if (payload_text.size() > kMaxClaimsLen) return Status::Malformed;
  ClaimsSink sink;
  sink.require_apikeys_claims = opt.require_apikeys_claims;
  sink.issuer = opt.issuer;
  if (!ObjectReader<ClaimsSink>(sink, Bounds{kMaxClaimsMembers, kMaxClaimElements}).read(payload_text) || !sink.has_exp)
    return Status::Malformed;
  Claims &c = sink.c;
  if (opt.require_apikeys_claims && (c.key_id <= 0 || !sink.has_tenant || !sink.has_perms)) return Status::Malformed;
  if (c.has_rate && sink.nrate != 4) return Status::Malformed;
  if (!sink.iss_ok) return Status::WrongIssuer;
  if (opt.now >= c.exp) return Status::Expired;
  if ((c.has_nbf && c.nbf > opt.now + opt.clock_skew) || (c.has_iat && c.iat > opt.now + opt.clock_skew))
    return Status::NotYetValid;
  *out = std::move(c);
  return Status::Valid;
}

}  // namespace

// The wrappers turn every failure but memory exhaustion into a code: a bad token never
// throws, and an unexpected exception fails closed.
Status verify_signature(std::string_view token, KeyLookup lookup, void *ctx, std::string *payload) {
  try {
    return verify_signature_impl(token, lookup, ctx, payload);
  } catch (const std::bad_alloc &) {
    throw;
  } catch (...) {
    ERR_clear_error();
    return Status::Malformed;
  }
}

Status verify_claims(std::string_view payload, const VerifyOptions &opt, Claims *out) {
  try {
    return verify_claims_impl(payload, opt, out);
  } catch (const std::bad_alloc &) {
    throw;
  } catch (...) {
    return Status::Malformed;
  }
}

Status verify(std::string_view token, KeyLookup lookup, void *ctx, const VerifyOptions &opt, Claims *out) {
  std::string payload;
  Status s = verify_signature(token, lookup, ctx, &payload);
  if (s != Status::Valid) return s;
  return verify_claims(payload, opt, out);
}

}  // namespace apikeys::core::jwt
