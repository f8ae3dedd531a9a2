// base62, CRC-32 and the CSPRNG helpers of the core.
#include "core.hpp"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <array>

namespace apikeys::core {

#define APIKEYS_BASE62_ALPHABET "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
const char kBase62Alphabet[63] = APIKEYS_BASE62_ALPHABET;

namespace {

constexpr std::array<int8_t, 256> make_base62_table() {
  std::array<int8_t, 256> t{};
  for (auto &v : t) v = -1;
  // A local constant: clang (unlike gcc) will not read the extern array at compile time.
  constexpr char alphabet[63] = APIKEYS_BASE62_ALPHABET;
  for (int i = 0; i < 62; i++) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kBase62Table = make_base62_table();

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

}  // namespace

int base62_value(unsigned char c) noexcept { return kBase62Table[c]; }

bool is_base62(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (kBase62Table[c] < 0) return false;
  return true;
}

std::string base62_fixed(uint64_t n, size_t width) {
  std::string out(width, '0');
  for (size_t i = width; i-- > 0;) {
    out[i] = kBase62Alphabet[n % 62];
    n /= 62;
  }
  if (n != 0) throw Error("22003", "value does not fit in the requested base62 width");
  return out;
}

uint32_t crc32(std::string_view data) noexcept {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = kCrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void random_bytes(unsigned char *buf, size_t len) {
  ERR_clear_error();
  if (RAND_bytes(buf, static_cast<int>(len)) != 1) {
    ERR_clear_error();
    throw Error("XX000", "could not generate random bytes");
  }
}

std::string random_base62(size_t len) {
  std::string out;
  out.reserve(len);
  unsigned char buf[64];
  while (out.size() < len) {
    random_bytes(buf, sizeof buf);
    for (unsigned char b : buf) {
      // 248 = 4 * 62: bytes at or above it are rejected so every digit is uniform.
      if (b < 248) out.push_back(kBase62Alphabet[b % 62]);
      if (out.size() == len) break;
    }
  }
  return out;
}

}  // namespace apikeys::core
