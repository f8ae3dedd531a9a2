// Key format: generation, parsing with checksum, hashing and permission matching.
#include "core.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cstring>
#include <memory>

namespace apikeys::core {

bool valid_prefix(std::string_view prefix) noexcept {
  if (prefix.empty() || prefix.size() > kMaxPrefixLen) return false;
  for (unsigned char c : prefix)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

namespace {
// The key of a client id and a secret (base62), with its checksum and hint.
NewKey complete_key(std::string_view client_id, std::string_view secret) {
  NewKey k;
  k.client_id.assign(client_id);
  k.key.reserve(client_id.size() + kSecretLen + kChecksumLen);
  k.key.assign(client_id);
  k.key.append(secret);
  k.key += base62_fixed(crc32(k.key), kChecksumLen);
  k.hint = k.key.substr(k.key.size() - kHintLen);
  return k;
}
}  // namespace

NewKey generate_key(std::string_view prefix) {
  if (!valid_prefix(prefix)) throw Error("22023", "key prefix must be 1 to 10 lower-case letters or digits");
  // The id and the secret from one draw of the CSPRNG.
  std::string random = random_base62(kIdLen + kSecretLen);
  std::string client_id;
  client_id.reserve(prefix.size() + 1 + kIdLen);
  client_id.append(prefix).push_back('_');
  client_id.append(random, 0, kIdLen);
  NewKey k = complete_key(client_id, std::string_view(random).substr(kIdLen));
  OPENSSL_cleanse(&random[0], random.size());
  return k;
}

NewKey generate_key_for_client(std::string_view client_id) {
  if (!valid_client_id(client_id)) throw Error("22023", "malformed client id");
  std::string secret = random_base62(kSecretLen);
  NewKey k = complete_key(client_id, secret);
  OPENSSL_cleanse(&secret[0], secret.size());
  return k;
}

bool valid_client_id(std::string_view client_id) noexcept {
  size_t us = client_id.find('_');
  if (us == std::string_view::npos || !valid_prefix(client_id.substr(0, us))) return false;
  std::string_view id = client_id.substr(us + 1);
  return id.size() == kIdLen && is_base62(id);
}

int64_t key_id_of(std::string_view client_id) noexcept {
  if (!valid_client_id(client_id)) return 0;
  // Horner's rule mod M = 2^63 - 1, folding each step: x mod M = (x & M) + (x >> 63), < 2M.
  constexpr uint64_t kMod = (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  for (unsigned char c : client_id.substr(client_id.size() - kIdLen)) {
    unsigned __int128 x = static_cast<unsigned __int128>(v) * 62 + static_cast<unsigned>(base62_value(c));
    uint64_t folded = static_cast<uint64_t>(x & kMod) + static_cast<uint64_t>(x >> 63);
    v = folded >= kMod ? folded - kMod : folded;
  }
  return static_cast<int64_t>(v + 1);
}

bool parse_key(std::string_view key, size_t *client_id_len) noexcept {
  if (key.size() < 2 + kIdLen + kSecretLen + kChecksumLen || key.size() > kMaxKeyLen) return false;
  size_t us = key.find('_');
  if (us == std::string_view::npos || !valid_prefix(key.substr(0, us))) return false;
  std::string_view rest = key.substr(us + 1);
  if (rest.size() != kIdLen + kSecretLen + kChecksumLen || !is_base62(rest)) return false;
  std::string_view body = key.substr(0, key.size() - kChecksumLen);
  std::string_view check = key.substr(key.size() - kChecksumLen);
  uint64_t v = 0;
  for (unsigned char c : check) v = v * 62 + static_cast<uint64_t>(base62_value(c));
  if (v != crc32(body)) return false;
  *client_id_len = us + 1 + kIdLen;
  return true;
}

const char *scheme_tag(Scheme s) noexcept { return s == Scheme::Sha256 ? "sha256" : "hmac-sha256"; }

bool parse_scheme(std::string_view tag, Scheme *out) noexcept {
  if (tag == "sha256") {
    *out = Scheme::Sha256;
    return true;
  }
  if (tag == "hmac-sha256") {
    *out = Scheme::HmacSha256;
    return true;
  }
  return false;
}

namespace {
// SHA-256 fetched once: OpenSSL 3 otherwise looks the algorithm up on every call.
const EVP_MD *sha256_md() {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
  static EVP_MD *md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md != nullptr) return md;
#endif
  return EVP_sha256();
}
struct MdCtxFree {
  void operator()(EVP_MD_CTX *c) const noexcept { EVP_MD_CTX_free(c); }
};

// One digest context for the process (a backend runs one call at a time), re-initialised
// per call: saves an allocation and a provider lookup on verify's hot path.
EVP_MD_CTX *sha256_ctx() {
  static std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  return ctx.get();
}
}  // namespace

void sha256(std::string_view data, unsigned char out[kHashLen]) {
  ERR_clear_error();
  EVP_MD_CTX *ctx = sha256_ctx();
  unsigned int len = 0;
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, sha256_md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 || EVP_DigestFinal_ex(ctx, out, &len) != 1 ||
      len != kHashLen) {
    ERR_clear_error();
    throw Error("XX000", "SHA-256 failed");
  }
}

// RFC 2104 over two digests of the pre-fetched SHA-256: a third of the cost of OpenSSL 3's
// one-shot HMAC(), which matters on verify_token's hot path.
void hmac_sha256(std::string_view key, std::string_view data, unsigned char out[kHashLen]) {
  constexpr size_t kBlock = 64;
  ERR_clear_error();
  unsigned char k[kBlock] = {0}, pad[kBlock], inner[kHashLen];
  if (key.size() > kBlock)
    sha256(key, k);
  else
    std::memcpy(k, key.data(), key.size());
  const EVP_MD *md = sha256_md();
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  unsigned int len = 0, outer_len = 0;
  for (size_t i = 0; i < kBlock; i++) pad[i] = k[i] ^ 0x36;
  bool ok = ctx && EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1 && EVP_DigestUpdate(ctx.get(), pad, kBlock) == 1 &&
            EVP_DigestUpdate(ctx.get(), data.data(), data.size()) == 1 &&
            EVP_DigestFinal_ex(ctx.get(), inner, &len) == 1 && len == kHashLen;
  for (size_t i = 0; i < kBlock; i++) pad[i] = k[i] ^ 0x5c;
  ok = ok && EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1 && EVP_DigestUpdate(ctx.get(), pad, kBlock) == 1 &&
       EVP_DigestUpdate(ctx.get(), inner, kHashLen) == 1 && EVP_DigestFinal_ex(ctx.get(), out, &outer_len) == 1 &&
       outer_len == kHashLen;
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(pad, sizeof pad);
  OPENSSL_cleanse(inner, sizeof inner);
  if (!ok) {
    ERR_clear_error();
    throw Error("XX000", "HMAC-SHA-256 failed");
  }
}

void hash_key(Scheme s, std::string_view pepper, std::string_view key, unsigned char out[kHashLen]) {
  if (s == Scheme::Sha256)
    sha256(key, out);
  else
    hmac_sha256(pepper, key, out);
}

bool ct_equal(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen) noexcept {
  return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

namespace {
bool valid_segment(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64) return false;
  for (unsigned char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) return false;
  return true;
}
}  // namespace

bool valid_permission(std::string_view p) noexcept {
  if (p == "*") return true;
  if (p.empty() || p.size() > kMaxPermissionLen) return false;
  size_t start = 0;
  for (;;) {
    size_t colon = p.find(':', start);
    std::string_view seg = p.substr(start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
    if (colon == std::string_view::npos) return valid_segment(seg) || (seg == "*" && start > 0);
    if (!valid_segment(seg)) return false;
    start = colon + 1;
  }
}

bool permission_covers(std::string_view granted, std::string_view required) noexcept {
  if (granted == "*" || granted == required) return true;
  // "a:b:*" covers every permission that starts with "a:b:".
  if (granted.size() >= 2 && granted.substr(granted.size() - 2) == ":*") {
    std::string_view stem = granted.substr(0, granted.size() - 1);
    return required.size() > stem.size() && required.substr(0, stem.size()) == stem;
  }
  return false;
}

bool any_covers(const std::string_view *granted, size_t n, std::string_view required) noexcept {
  for (size_t i = 0; i < n; i++)
    if (granted[i].data() != nullptr && permission_covers(granted[i], required)) return true;
  return false;
}

}  // namespace apikeys::core
