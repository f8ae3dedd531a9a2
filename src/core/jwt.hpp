// Pure C++ core of the access tokens: base64url, JWS compact serialisation (HS256 and
// Ed25519), and the claims apikeys puts in a token. No PostgreSQL headers may be included
// with it; nothing here raises for a bad token (only std::bad_alloc can escape verify).
#pragma once
#ifdef POSTGRES_H
#error "src/core must stay free of PostgreSQL headers: include core headers before postgres.h"
#endif

#include "core.hpp"
#include "net.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace apikeys::core::jwt {

// ---- limits ----------------------------------------------------------------------------

// nbf and iat may be this far in the future (clocks of a primary and its standbys differ).
constexpr int64_t kClockSkewSeconds = 60;
// The longest lifetime issue_token gives a token, whatever ttl asks for.
constexpr int64_t kMaxTtlSeconds = 24 * 3600;
// Longer tokens are MALFORMED without being decoded; issue refuses to make one.
constexpr size_t kMaxTokenLen = 64 * 1024;
// What verification parses before the signature is checked is bounded so that a forged
// token costs no more than a real one, and the payload is bounded too. Beyond any bound the
// answer is MALFORMED. Every bound is far above what sign() writes, so no token it issues
// is refused:
// - the header (JSON, decoded) is at most kMaxHeaderLen bytes, checked on the length of its
//   base64url segment before anything is decoded; sign() writes {"alg","kid","typ"}, at
//   most 100 bytes with a 64-character kid;
constexpr size_t kMaxHeaderLen = 1024;
// - the header has at most kMaxHeaderMembers members (sign() writes 3; RFC 7515 registers 11);
constexpr size_t kMaxHeaderMembers = 32;
// - the claims (JSON, decoded) are at most what a kMaxTokenLen token can carry;
constexpr size_t kMaxClaimsLen = kMaxTokenLen / 4 * 3;
// - the claims have at most kMaxClaimsMembers top-level members (sign() writes at most 12);
constexpr size_t kMaxClaimsMembers = 64;
// - a top-level array (perms, ips, rl, any other) has at most kMaxClaimElements elements.
//   sign() bounds perms and ips only by kMaxTokenLen; a string element takes at least 3
//   bytes of JSON ("" and a comma), so no token within kMaxClaimsLen has more.
constexpr size_t kMaxClaimElements = 16384;
static_assert(kMaxClaimElements * 3 >= kMaxClaimsLen, "a token sign() makes must not exceed kMaxClaimElements");
// NumericDate range accepted in exp, nbf and iat: 1970-01-01 .. 9999-12-31T23:59:59Z.
constexpr int64_t kMaxNumericDate = 253402300799;
// Key ids (kid) are 1-64 of [A-Za-z0-9_-].
constexpr size_t kMaxKidLen = 64;
constexpr size_t kHs256MinSecretLen = 32;  // 256 bits
constexpr size_t kEd25519KeyLen = 32;      // raw private seed and raw public key
constexpr size_t kEd25519SigLen = 64;

// ---- base64url (RFC 4648 section 5, no padding) ---------------------------------------------

std::string b64url_encode(std::string_view data);
// Strict: the alphabet A-Za-z0-9-_ only, no '=', no length of 4n+1, and the unused low bits
// of the last character must be zero (one encoding per byte string). Never throws except
// std::bad_alloc.
bool b64url_decode(std::string_view in, std::string *out);

// ---- algorithms and keys ----------------------------------------------------------------

enum class Alg : uint8_t { HS256, EdDSA };
const char *alg_name(Alg a) noexcept;  // "HS256", "EdDSA" (the JWS "alg" values)
bool parse_alg(std::string_view name, Alg *out) noexcept;
bool valid_kid(std::string_view kid) noexcept;

// A signing key as the caller stores it: for HS256 the secret; for EdDSA the raw 32-byte
// private key (secret) and raw 32-byte public key. Views: the caller owns the bytes.
struct KeyView {
  Alg alg;
  std::string_view secret;
  std::string_view public_key;
};

// New key material from the CSPRNG: a random kid, and for HS256 a 32-byte secret, for EdDSA
// an Ed25519 key pair. Throws Error.
struct NewSigningKey {
  std::string kid;
  std::string secret;
  std::string public_key;  // empty for HS256
};
NewSigningKey generate_signing_key(Alg alg);

// Raw Ed25519 (RFC 8032) over a message. Throw Error on an OpenSSL failure or a bad key.
std::string ed25519_sign(std::string_view private_key, std::string_view message);
std::string ed25519_public_key(std::string_view private_key);
// False for a bad signature, a bad key or any length mismatch; never throws.
bool ed25519_verify(std::string_view public_key, std::string_view message, std::string_view signature) noexcept;

// ---- tokens -----------------------------------------------------------------------------

// The claims of an apikeys access token. sub is the key id in decimal, key_set_id is a
// decimal string too (63-bit ids do not survive JavaScript's numbers).
struct Claims {
  std::string iss;
  int64_t key_id = 0;  // "sub"
  std::string tenant;
  bool has_owner = false;
  std::string owner;
  bool has_key_set = false;
  int64_t key_set_id = 0;  // "key_set_id"
  std::vector<std::string> perms;
  bool has_ips = false;      // "ips": the addresses the token may be used from (the key's allowlist)
  std::vector<Network> ips;  // when has_ips
  // "rl": [key limit, key window, tenant limit, tenant window] (windows in microseconds, 0
  // for no limit): the rate limits the key had when the token was issued.
  bool has_rate = false;
  int64_t rate[4] = {0, 0, 0, 0};
  int64_t iat = 0, nbf = 0, exp = 0;  // seconds since 1970 (NumericDate)
  bool has_iat = false, has_nbf = false;
  std::string jti;
};

// Signs the claims with the key: header {"alg","kid","typ":"JWT"}; a random jti is drawn
// when claims.jti is empty. Throws Error (22023 for claims that cannot be put in a token,
// 54000 for a token longer than kMaxTokenLen).
std::string sign(std::string_view kid, const KeyView &key, const Claims &claims);
// Signs arbitrary header and payload bytes as a compact JWS with the key's algorithm (the
// header is not checked): for tests and tools.
std::string sign_compact(std::string_view header, std::string_view payload, const KeyView &key);

enum class Status : uint8_t { Valid, Malformed, InvalidSignature, UnknownKey, WrongIssuer, Expired, NotYetValid };
// "VALID", "MALFORMED", "INVALID_SIGNATURE", "UNKNOWN_KEY", "WRONG_ISSUER", "EXPIRED",
// "NOT_YET_VALID".
const char *status_code(Status s) noexcept;

// Finds a usable (not retired) signing key by kid; must not throw. The kid is "" when the
// header has none.
using KeyLookup = bool (*)(void *ctx, std::string_view kid, KeyView *out);

struct VerifyOptions {
  std::string_view issuer;  // iss must equal it
  int64_t now = 0;          // seconds since 1970
  int64_t clock_skew = kClockSkewSeconds;
  // False accepts tokens without sub, tenant and perms (any JWT with the registered claims,
  // as RFC 7515's examples): the claims then hold what was present.
  bool require_apikeys_claims = true;
};

// Step 1: the compact JWS. Checks the shape and base64url of the three parts, parses the
// header (a JSON object of at most kMaxHeaderLen bytes and kMaxHeaderMembers members: string
// "alg", string "kid" if present, "typ" JWT if present, no "crit"), finds the key by kid,
// pins the algorithm to the key's, and checks the signature (CRYPTO_memcmp for HS256). On
// Valid, *payload holds the decoded payload bytes.
// Answers Malformed, UnknownKey or InvalidSignature otherwise.
Status verify_signature(std::string_view token, KeyLookup lookup, void *ctx, std::string *payload);
// Step 2: the claims of a payload whose signature was checked: a JSON object (within
// kMaxClaimsLen, kMaxClaimsMembers and kMaxClaimElements) with numeric exp; iss equal to
// the issuer (WrongIssuer); now < exp (Expired); nbf and iat, when present, at most
// clock_skew in the future (NotYetValid); and, unless relaxed, string sub (a decimal key
// id), string tenant, array of string perms, optional string owner and key_set_id.
Status verify_claims(std::string_view payload, const VerifyOptions &opt, Claims *out);
// Both steps.
Status verify(std::string_view token, KeyLookup lookup, void *ctx, const VerifyOptions &opt, Claims *out);

}  // namespace apikeys::core::jwt
