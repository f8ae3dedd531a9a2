// libFuzzer target for the key format (make fuzz). The first input byte picks a property,
// the rest is the input; a violated property aborts:
//   0: parse_key, valid_prefix, valid_client_id and key_id_of of arbitrary bytes agree with
//      a reference written from the format (core.hpp), and never crash;
//   1: a key built from the input (prefix, id and secret mapped into their alphabets, the
//      checksum computed) parses; changing one character, cutting it, dropping or adding
//      one character after the '_', or swapping two neighbours of the body, never parses;
//   2: generate_key with a prefix from the input makes a key that parses (or refuses a bad
//      prefix with 22023), and so does generate_key_for_client with its client id;
//   3: base62_fixed of a number from the input decodes back to it (or refuses with 22003 a
//      number too large for the width), is_base62 and base62_value agree with the alphabet;
//   4: crc32 equals a bit-at-a-time reference, and CRC-32's linearity holds.
#include "../../src/core/core.hpp"
#include "fuzz.hpp"

#include <cstring>
#include <string>

using namespace apikeys::core;
using apikeys::fuzz::check;

namespace {

constexpr size_t kBodyLen = kIdLen + kSecretLen;  // base62 characters between '_' and the checksum

bool ref_prefix(std::string_view p) {
  if (p.empty() || p.size() > 10) return false;
  for (char c : p)
    if (!std::strchr("abcdefghijklmnopqrstuvwxyz0123456789", c) || c == '\0') return false;
  return true;
}

bool ref_base62(std::string_view s) {
  for (char c : s)
    if (c == '\0' || !std::strchr(kBase62Alphabet, c)) return false;
  return !s.empty();
}

// <prefix>_<16 base62>: the prefix is everything before the first '_'.
bool ref_client_id(std::string_view id) {
  size_t us = id.find('_');
  return us != std::string_view::npos && ref_prefix(id.substr(0, us)) && id.size() - us - 1 == kIdLen &&
         ref_base62(id.substr(us + 1));
}

// <client id><secret:22><checksum:6>, the checksum the CRC-32 of the rest in 6 base62 digits.
bool ref_key(std::string_view key, size_t *client_id_len) {
  size_t us = key.find('_');
  if (us == std::string_view::npos || !ref_prefix(key.substr(0, us))) return false;
  if (key.size() != us + 1 + kBodyLen + kChecksumLen || !ref_base62(key.substr(us + 1))) return false;
  std::string_view body = key.substr(0, key.size() - kChecksumLen);
  if (base62_fixed(crc32(body), kChecksumLen) != key.substr(body.size())) return false;
  *client_id_len = us + 1 + kIdLen;
  return true;
}

// The key id of a client id: its 16 digits as a number (below 2^96), mod 2^63 - 1, plus 1.
int64_t ref_key_id(std::string_view client_id) {
  unsigned __int128 v = 0;
  for (char c : client_id.substr(client_id.size() - kIdLen))
    v = v * 62 + static_cast<unsigned>(std::strchr(kBase62Alphabet, c) - kBase62Alphabet);
  constexpr unsigned __int128 kMod = (static_cast<unsigned __int128>(1) << 63) - 1;
  return static_cast<int64_t>(v % kMod) + 1;
}

// Checks every property of a string that parse_key accepted (or not).
void check_parse(std::string_view in) {
  size_t len = 0, ref_len = 0;
  bool ok = parse_key(in, &len);
  check(ok == ref_key(in, &ref_len));
  if (!ok) return;
  check(len == ref_len && len <= in.size());
  std::string_view client_id = in.substr(0, len);
  check(valid_client_id(client_id) && valid_prefix(client_id.substr(0, client_id.find('_'))));
  int64_t id = key_id_of(client_id);
  check(id >= 1 && id == ref_key_id(client_id));
  check(in.size() <= kMaxKeyLen);
}

uint64_t number_from(std::string_view in) {
  uint64_t n = 0;
  for (size_t i = 0; i < in.size() && i < 8; i++) n = (n << 8) | static_cast<unsigned char>(in[i]);
  return n;
}

// Maps a byte into an alphabet.
char into(const char *alphabet, size_t n, unsigned char b) { return alphabet[b % n]; }

void built_key(std::string_view in) {
  static const char kPrefixAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  size_t plen = 1 + (in.empty() ? 0 : static_cast<unsigned char>(in[0]) % kMaxPrefixLen);
  std::string key;
  for (size_t i = 0; i < plen; i++)
    key.push_back(into(kPrefixAlphabet, 36, i + 1 < in.size() ? static_cast<unsigned char>(in[i + 1]) : 0));
  key.push_back('_');
  for (size_t i = 0; i < kBodyLen; i++) {
    size_t at = plen + 1 + i;
    key.push_back(into(kBase62Alphabet, 62, at < in.size() ? static_cast<unsigned char>(in[at]) : 0));
  }
  key += base62_fixed(crc32(key), kChecksumLen);
  size_t len = 0;
  check(parse_key(key, &len) && len == plen + 1 + kIdLen);
  check(key_id_of(key.substr(0, len)) == ref_key_id(key.substr(0, len)));
  // The prefix takes no part in the id.
  check(key_id_of(key.substr(0, len)) == key_id_of("x" + key.substr(plen, len - plen)));

  // One character changed (CRC-32 finds every error of one byte), dropped or added.
  unsigned char pick = in.size() > 40 ? static_cast<unsigned char>(in[40]) : 0;
  size_t pos = (pick * 131u + in.size()) % key.size();
  unsigned char with = in.size() > 41 ? static_cast<unsigned char>(in[41]) : 'A';
  std::string bad = key;
  bad[pos] = static_cast<char>(with == static_cast<unsigned char>(bad[pos]) ? with ^ 1 : with);
  check(!parse_key(bad, &len));
  check_parse(bad);
  // Cut anywhere, or longer by a character after the '_' (before it, a prefix one letter
  // shorter or longer is a well-formed key whose checksum only fails with odds of 2^-32).
  check(!parse_key(std::string_view(key).substr(0, pos), &len));
  check(!parse_key(key + static_cast<char>(with), &len));
  size_t after = plen + 1 + pos % (key.size() - plen - 1);
  bad = key;
  bad.insert(after, 1, static_cast<char>(with));
  check(!parse_key(bad, &len));
  bad = key;
  bad.erase(after, 1);
  check(!parse_key(bad, &len));
  // Two neighbours swapped within the body: a burst of at most 16 bits, which CRC-32 finds.
  size_t body = key.size() - kChecksumLen;
  size_t sw = pos % (body - 1);
  if (key[sw] != key[sw + 1]) {
    bad = key;
    std::swap(bad[sw], bad[sw + 1]);
    check(!parse_key(bad, &len));
  }
}

void generated(std::string_view prefix) {
  NewKey k;
  try {
    k = generate_key(prefix);
  } catch (const Error &e) {
    check(!valid_prefix(prefix) && std::strcmp(e.sqlstate(), "22023") == 0);
    return;
  }
  check(valid_prefix(prefix) && ref_prefix(prefix));
  size_t len = 0;
  check(parse_key(k.key, &len) && len == k.client_id.size());
  check(k.key.compare(0, len, k.client_id) == 0 && k.key.size() == prefix.size() + 1 + kBodyLen + kChecksumLen);
  check(k.client_id.compare(0, prefix.size(), prefix) == 0 && valid_client_id(k.client_id));
  check(k.hint == k.key.substr(k.key.size() - kHintLen));
  check(key_id_of(k.client_id) == ref_key_id(k.client_id));
  NewKey rolled = generate_key_for_client(k.client_id);
  check(rolled.client_id == k.client_id && parse_key(rolled.key, &len) && len == k.client_id.size());
  check(rolled.key != k.key);
}

void base62(std::string_view in) {
  size_t width = in.empty() ? 0 : static_cast<unsigned char>(in[0]) % 13;
  uint64_t n = number_from(in.substr(in.empty() ? 0 : 1));
  std::string s;
  bool fits = true;
  try {
    s = base62_fixed(n, width);
  } catch (const Error &e) {
    check(std::strcmp(e.sqlstate(), "22003") == 0);
    fits = false;
  }
  // It fits when n < 62^width.
  unsigned __int128 limit = 1;
  for (size_t i = 0; i < width && limit <= UINT64_MAX; i++) limit *= 62;
  check(fits == (static_cast<unsigned __int128>(n) < limit));
  if (fits) {
    check(s.size() == width && (width == 0 || is_base62(s)));
    uint64_t back = 0;
    for (char c : s) back = back * 62 + static_cast<uint64_t>(base62_value(static_cast<unsigned char>(c)));
    check(back == n);
  }
  check(is_base62(in) == ref_base62(in));
  for (char c : in) {
    int v = base62_value(static_cast<unsigned char>(c));
    check(v >= -1 && v < 62);
    check(v < 0 ? c == '\0' || !std::strchr(kBase62Alphabet, c) : kBase62Alphabet[v] == c);
  }
}

uint32_t ref_crc32(std::string_view data) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) {
    c ^= b;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return ~c;
}

void crc(std::string_view in) {
  check(crc32(in) == ref_crc32(in));
  // For messages of one length, crc(a ^ b) = crc(a) ^ crc(b) ^ crc(zeros).
  size_t half = in.size() / 2;
  std::string a(in.substr(0, half)), b(in.substr(half, half)), x(half, '\0');
  for (size_t i = 0; i < half; i++) x[i] = static_cast<char>(a[i] ^ b[i]);
  check(crc32(x) == (crc32(a) ^ crc32(b) ^ crc32(std::string(half, '\0'))));
}

}  // namespace

void apikeys::fuzz::run(unsigned selector, std::string_view in) {
  switch (selector % 5) {
    case 0: {
      check_parse(in);
      check(valid_prefix(in) == ref_prefix(in));
      bool client = valid_client_id(in);
      check(client == ref_client_id(in));
      int64_t id = key_id_of(in);
      check(client ? id == ref_key_id(in) : id == 0);
      break;
    }
    case 1:
      built_key(in);
      break;
    case 2:
      generated(in);
      break;
    case 3:
      base62(in);
      break;
    case 4:
      crc(in);
      break;
  }
}
