// Pure C++ core of apikeys: no PostgreSQL headers may be included with it.
#pragma once
#ifdef POSTGRES_H
#error "src/core must stay free of PostgreSQL headers: include core headers before postgres.h"
#endif

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace apikeys::core {

// An error with a PostgreSQL SQLSTATE (five characters) for the glue to report.
struct Error : std::runtime_error {
  Error(const char *sqlstate, const std::string &message) : std::runtime_error(message), sqlstate_(sqlstate) {}
  const char *sqlstate() const noexcept { return sqlstate_; }

 private:
  const char *sqlstate_;
};

// ---- base62 and CRC-32 -------------------------------------------------------

extern const char kBase62Alphabet[63];  // "0-9A-Za-z"

// Value of a base62 digit, or -1.
int base62_value(unsigned char c) noexcept;
// True if every byte of s is a base62 digit (and s is not empty).
bool is_base62(std::string_view s) noexcept;
// n written with exactly `width` base62 digits, most significant first.
std::string base62_fixed(uint64_t n, size_t width);
// CRC-32 (IEEE 802.3, reflected, as zlib's crc32()).
uint32_t crc32(std::string_view data) noexcept;

// ---- random -------------------------------------------------------------------

// Fills buf from OpenSSL's CSPRNG; throws Error on failure.
void random_bytes(unsigned char *buf, size_t len);
// `len` base62 characters, each uniform (rejection sampling over CSPRNG bytes).
std::string random_base62(size_t len);

// ---- key format -----------------------------------------------------------------
// <prefix>_<id:16><secret:22><checksum:6>; client id = <prefix>_<id>.

constexpr size_t kIdLen = 16;       // 95 bits: the public id
constexpr size_t kSecretLen = 22;   // 130 bits from the CSPRNG
constexpr size_t kChecksumLen = 6;  // CRC-32 in base62
constexpr size_t kMaxPrefixLen = 10;
constexpr size_t kHintLen = 4;
constexpr size_t kMaxKeyLen = kMaxPrefixLen + 1 + kIdLen + kSecretLen + kChecksumLen;

// True if prefix is 1-10 lower-case ASCII letters or digits.
bool valid_prefix(std::string_view prefix) noexcept;

struct NewKey {
  std::string client_id;
  std::string key;   // the plaintext: shown once
  std::string hint;  // last four characters
};

// Generates a new key with the given prefix; throws Error(22023) for a bad prefix.
NewKey generate_key(std::string_view prefix);
// A new secret for an existing client id (rolling a key); throws Error(22023) if the
// client id is malformed.
NewKey generate_key_for_client(std::string_view client_id);

// Parses a presented key: on success returns true and sets client_id_len (the length of
// the client id at the start of key). False for anything malformed; never throws.
bool parse_key(std::string_view key, size_t *client_id_len) noexcept;

// True if client_id has the shape of a client id (prefix, '_', 16 base62).
bool valid_client_id(std::string_view client_id) noexcept;

// The key id a client id determines: its 16 base62 digits as a number (at most 62^16,
// about 2^95.3), reduced to 1 .. 2^63 - 1 (value mod (2^63 - 1), plus 1). The prefix does
// not take part. Lets verify find a key by the bigint primary key instead of a text index.
// Returns 0 if client_id is malformed.
int64_t key_id_of(std::string_view client_id) noexcept;

// ---- hashing ----------------------------------------------------------------------

constexpr size_t kHashLen = 32;
enum class Scheme { Sha256, HmacSha256 };
// Tag stored with each key: "sha256" or "hmac-sha256".
const char *scheme_tag(Scheme s) noexcept;
// Parses a tag; false if unknown.
bool parse_scheme(std::string_view tag, Scheme *out) noexcept;

void sha256(std::string_view data, unsigned char out[kHashLen]);
void hmac_sha256(std::string_view key, std::string_view data, unsigned char out[kHashLen]);
// Hash of a key string under a scheme (pepper used only by HmacSha256).
void hash_key(Scheme s, std::string_view pepper, std::string_view key, unsigned char out[kHashLen]);
// Constant-time equality of two byte strings of the same length (false if lengths differ).
bool ct_equal(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen) noexcept;

// ---- permissions ----------------------------------------------------------------
// Grammar: "*", or segments joined by ':' where a segment is 1-64 of [a-z0-9_.-] and
// the last segment may be "*"; at most 128 characters in all.

constexpr size_t kMaxPermissionLen = 128;
bool valid_permission(std::string_view p) noexcept;
// True if the granted permission covers the required one.
bool permission_covers(std::string_view granted, std::string_view required) noexcept;
// True if one of n granted permissions covers the required one (entries with a null data()
// pointer, SQL NULLs, cover nothing).
bool any_covers(const std::string_view *granted, size_t n, std::string_view required) noexcept;

}  // namespace apikeys::core
