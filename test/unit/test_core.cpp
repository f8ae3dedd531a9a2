// Unit tests of the pure core: known-answer vectors and properties of the key format.
#include "../../src/core/core.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

using namespace apikeys::core;

namespace {
std::string hex(const unsigned char *p, size_t n) {
  static const char *d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; i++) {
    s.push_back(d[p[i] >> 4]);
    s.push_back(d[p[i] & 15]);
  }
  return s;
}
std::string unhex(std::string_view h) {
  std::string s;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    s.push_back(static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
  return s;
}
}  // namespace

TEST(Crc32, CheckValue) { EXPECT_EQ(crc32("123456789"), 0xCBF43926u); }
TEST(Crc32, Empty) { EXPECT_EQ(crc32(""), 0u); }
TEST(Crc32, Fox) { EXPECT_EQ(crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u); }

TEST(Base62, FixedWidth) {
  EXPECT_EQ(base62_fixed(0, 6), "000000");
  EXPECT_EQ(base62_fixed(61, 2), "0z");
  EXPECT_EQ(base62_fixed(62, 2), "10");
  EXPECT_EQ(base62_fixed(0xCBF43926u, 6), "3jZRME");  // 3421780262, checked with Python
  EXPECT_EQ(base62_fixed(0xFFFFFFFFu, 6), "4gfFC3");
  EXPECT_THROW(base62_fixed(62, 1), Error);
}
TEST(Base62, Alphabet) {
  EXPECT_TRUE(is_base62("09AZaz"));
  EXPECT_FALSE(is_base62(""));
  EXPECT_FALSE(is_base62("a_b"));
  EXPECT_FALSE(is_base62("\xc3\xa9"));
  for (int i = 0; i < 62; i++) EXPECT_EQ(base62_value(static_cast<unsigned char>(kBase62Alphabet[i])), i);
}

TEST(Sha256, NistVectors) {
  unsigned char out[kHashLen];
  sha256("abc", out);
  EXPECT_EQ(hex(out, 32), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  sha256("", out);
  EXPECT_EQ(hex(out, 32), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", out);
  EXPECT_EQ(hex(out, 32), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(HmacSha256, Rfc4231) {
  unsigned char out[kHashLen];
  hmac_sha256(std::string(20, '\x0b'), "Hi There", out);
  EXPECT_EQ(hex(out, 32), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  hmac_sha256("Jefe", "what do ya want for nothing?", out);
  EXPECT_EQ(hex(out, 32), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  hmac_sha256(std::string(20, '\xaa'), std::string(50, '\xdd'), out);
  EXPECT_EQ(hex(out, 32), "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  hmac_sha256(unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::string(50, '\xcd'), out);
  EXPECT_EQ(hex(out, 32), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  hmac_sha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First", out);
  EXPECT_EQ(hex(out, 32), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Hash, SchemesDiffer) {
  unsigned char a[kHashLen], b[kHashLen], c[kHashLen];
  hash_key(Scheme::Sha256, "", "ak_x", a);
  hash_key(Scheme::HmacSha256, "pepper", "ak_x", b);
  hash_key(Scheme::HmacSha256, "other", "ak_x", c);
  EXPECT_FALSE(ct_equal(a, 32, b, 32));
  EXPECT_FALSE(ct_equal(b, 32, c, 32));
  EXPECT_TRUE(ct_equal(a, 32, a, 32));
  EXPECT_FALSE(ct_equal(a, 32, a, 31));
  Scheme s;
  EXPECT_TRUE(parse_scheme(scheme_tag(Scheme::HmacSha256), &s));
  EXPECT_EQ(s, Scheme::HmacSha256);
  EXPECT_TRUE(parse_scheme("sha256", &s));
  EXPECT_EQ(s, Scheme::Sha256);
  EXPECT_FALSE(parse_scheme("md5", &s));
}

TEST(Key, Prefix) {
  EXPECT_TRUE(valid_prefix("ak"));
  EXPECT_TRUE(valid_prefix("abcdefghi0"));
  EXPECT_FALSE(valid_prefix("abcdefghi01"));
  EXPECT_FALSE(valid_prefix(""));
  EXPECT_FALSE(valid_prefix("Ak"));
  EXPECT_FALSE(valid_prefix("a_k"));
  EXPECT_THROW(generate_key("A"), Error);
}

TEST(Key, KnownKeyParses) {
  // A key built by hand: the checksum is CRC-32 of everything before it.
  std::string body = "ak_0123456789abcdefABCDEFGHIJKLMNOPQRSTUV";
  std::string key = body + base62_fixed(crc32(body), 6);
  size_t n = 0;
  ASSERT_TRUE(parse_key(key, &n));
  EXPECT_EQ(key.substr(0, n), "ak_0123456789abcdef");
  EXPECT_TRUE(valid_client_id(key.substr(0, n)));
  EXPECT_FALSE(valid_client_id("ak_0123456789abcde"));
  EXPECT_FALSE(valid_client_id("ak0123456789abcdef0"));
}

TEST(Key, KeyIdOfClientId) {
  // The id's 16 base62 digits as a number, mod 2^63 - 1, plus 1 (values from Python).
  EXPECT_EQ(key_id_of("ak_0000000000000000"), 1);
  EXPECT_EQ(key_id_of("ak_0000000000000001"), 2);
  EXPECT_EQ(key_id_of("ak_3x9Kq2mP7wZ1aBcD"), INT64_C(1185997755035371149));
  EXPECT_EQ(key_id_of("ak_zzzzzzzzzzzzzzzz"), INT64_C(7507589274499571573));
  EXPECT_EQ(key_id_of("x_00000AzL8n0Y58m6"), INT64_MAX);  // 2^63 - 2
  EXPECT_EQ(key_id_of("x_00000AzL8n0Y58m7"), 1);          // 2^63 - 1 wraps
  // The prefix does not take part; malformed client ids give 0.
  EXPECT_EQ(key_id_of("prod1_3x9Kq2mP7wZ1aBcD"), key_id_of("ak_3x9Kq2mP7wZ1aBcD"));
  EXPECT_EQ(key_id_of("ak_3x9Kq2mP7wZ1aBc"), 0);
  EXPECT_EQ(key_id_of("AK_3x9Kq2mP7wZ1aBcD"), 0);
  EXPECT_EQ(key_id_of(""), 0);
  // Against the definition, with 128-bit arithmetic, for random client ids.
  for (int i = 0; i < 10000; i++) {
    std::string client = generate_key("ak").client_id;
    unsigned __int128 v = 0;
    for (char c : client.substr(3)) v = v * 62 + static_cast<unsigned>(base62_value(static_cast<unsigned char>(c)));
    int64_t expected = static_cast<int64_t>(static_cast<uint64_t>(v % ((uint64_t{1} << 63) - 1)) + 1);
    ASSERT_EQ(key_id_of(client), expected) << client;
  }
}

TEST(Key, Rejections) {
  size_t n;
  NewKey k = generate_key("ak");
  EXPECT_TRUE(parse_key(k.key, &n));
  EXPECT_FALSE(parse_key("", &n));
  EXPECT_FALSE(parse_key(k.key.substr(0, k.key.size() - 1), &n));
  EXPECT_FALSE(parse_key(k.key + "0", &n));
  EXPECT_FALSE(parse_key("AK" + k.key.substr(2), &n));
  EXPECT_FALSE(parse_key(std::string(1 << 20, 'a'), &n));
  std::string bad = k.key;
  bad[5] = '\xff';
  EXPECT_FALSE(parse_key(bad, &n));
  bad = k.key;
  bad[2] = '-';
  EXPECT_FALSE(parse_key(bad, &n));
}

TEST(Key, Property100k) {
  std::set<std::string> keys, ids;
  for (int i = 0; i < 100000; i++) {
    NewKey k = generate_key(i % 2 ? "ak" : "live01");
    std::string_view prefix = i % 2 ? "ak" : "live01";
    ASSERT_EQ(k.key.size(), prefix.size() + 1 + kIdLen + kSecretLen + kChecksumLen);
    ASSERT_EQ(k.key.compare(0, k.client_id.size(), k.client_id), 0);
    ASSERT_EQ(k.hint, k.key.substr(k.key.size() - 4));
    ASSERT_TRUE(is_base62(k.key.substr(prefix.size() + 1)));
    size_t n = 0;
    ASSERT_TRUE(parse_key(k.key, &n));
    ASSERT_EQ(n, k.client_id.size());
    ASSERT_TRUE(keys.insert(k.key).second);
    ASSERT_TRUE(ids.insert(k.client_id).second);
    // Any one-character change (to another base62 digit) fails the checksum: CRC-32
    // detects every error confined to 32 consecutive bits.
    std::string m = k.key;
    size_t pos = prefix.size() + 1 + static_cast<size_t>(i) % (kIdLen + kSecretLen + kChecksumLen);
    char orig = m[pos];
    m[pos] = kBase62Alphabet[(base62_value(static_cast<unsigned char>(orig)) + 1 + i % 61) % 62];
    ASSERT_NE(m[pos], orig);
    ASSERT_FALSE(parse_key(m, &n)) << m;
  }
}

TEST(Key, EveryPositionEveryDigit) {
  NewKey k = generate_key("ak");
  size_t n;
  for (size_t pos = 0; pos < k.key.size(); pos++)
    for (int d = 0; d < 62; d++) {
      std::string m = k.key;
      if (m[pos] == kBase62Alphabet[d] || pos == 2) continue;
      m[pos] = kBase62Alphabet[d];
      if (pos < 2 && !valid_prefix(m.substr(0, 2))) continue;
      EXPECT_FALSE(parse_key(m, &n)) << pos;
    }
}

TEST(Random, Base62IsRoughlyUniform) {
  std::string s = random_base62(62 * 2000);
  int count[62] = {0};
  for (char c : s) count[base62_value(static_cast<unsigned char>(c))]++;
  for (int c : count) {
    EXPECT_GT(c, 1700);
    EXPECT_LT(c, 2300);
  }
}

TEST(Permission, Grammar) {
  for (const char *ok : {"*", "reports", "reports:read", "reports:*", "a:b:c", "data-export", "v1.read", "a_b:c"})
    EXPECT_TRUE(valid_permission(ok)) << ok;
  for (const char *bad : {"", ":", "a:", ":a", "Reports", "a b", "a:*:b", "*:a", "a::b", "a*", "é"})
    EXPECT_FALSE(valid_permission(bad)) << bad;
  EXPECT_FALSE(valid_permission(std::string(129, 'a')));
  EXPECT_FALSE(valid_permission(std::string(65, 'a')));
}

TEST(Permission, Matching) {
  EXPECT_TRUE(permission_covers("*", "reports:read"));
  EXPECT_TRUE(permission_covers("reports:read", "reports:read"));
  EXPECT_TRUE(permission_covers("reports:*", "reports:read"));
  EXPECT_TRUE(permission_covers("reports:*", "reports:a:b"));
  EXPECT_TRUE(permission_covers("reports:*", "reports:*"));
  EXPECT_FALSE(permission_covers("reports:*", "reports"));
  EXPECT_FALSE(permission_covers("reports:*", "reportsx:read"));
  EXPECT_FALSE(permission_covers("reports:read", "reports:write"));
  EXPECT_FALSE(permission_covers("reports:read", "reports:*"));
  EXPECT_FALSE(permission_covers("reports", "reports:read"));
}

TEST(Permission, AnyCovers) {
  std::string_view granted[] = {"reports:*", std::string_view(), "admin:read"};
  EXPECT_TRUE(any_covers(granted, 3, "reports:read"));
  EXPECT_TRUE(any_covers(granted, 3, "admin:read"));
  EXPECT_FALSE(any_covers(granted, 3, "admin:write"));
  EXPECT_FALSE(any_covers(granted, 3, ""));
  EXPECT_FALSE(any_covers(nullptr, 0, "reports:read"));
  std::string_view all[] = {"*"};
  EXPECT_TRUE(any_covers(all, 1, "anything:at:all"));
}
