// Unit tests of the log redaction (core::has_secret, core::redact).
#include "../../src/core/redact.hpp"

#include <gtest/gtest.h>

#include <string>

#include "../../src/core/core.hpp"

using namespace apikeys::core;

namespace {
std::string red(const std::string &in, const Redaction &r = Redaction()) {
  std::string out(redacted_size(in, r), '\0');
  size_t n = redact(in, out.data(), r);
  EXPECT_EQ(n, out.size());
  return out;
}
const std::string E = "\xe2\x80\xa6";  // the ellipsis
}  // namespace

TEST(Redact, NothingToDoCostsNothing) {
  for (const char *s : {"", "SELECT 1", "statement: SELECT apikeys.verify($1)", "max_keys_per_owner = 3",
                        "apikeys._usage_pending", "ak_", "ak_3x9Kq2mP7wZ1bC4d", "eyJ", "eyJhbGciOiJ", "\\x0102",
                        "a.b.c", "parameters: $1 = 'hello'", "user_abcdefghijklmno", "_abcdefghijklmnopqrstuvwxyz"}) {
    EXPECT_FALSE(has_secret(s)) << s;
    EXPECT_EQ(red(s), s);
  }
}

TEST(Redact, Keys) {
  std::string key = "ak_3x9Kq2mP7wZ1bC4dAbCdEfGhIjKlMnOpQrStUv12345";
  EXPECT_TRUE(has_secret(key));
  EXPECT_EQ(red(key), "ak_3x9K" + E + "[redacted]");
  EXPECT_EQ(red("SELECT apikeys.verify('" + key + "'), 1/0"),
            "SELECT apikeys.verify('ak_3x9K" + E + "[redacted]'), 1/0");
  EXPECT_EQ(red("parameters: $1 = '" + key + "', $2 = 'x'"), "parameters: $1 = 'ak_3x9K" + E + "[redacted]', $2 = 'x'");
  // Any prefix of 1 to 10 lower-case letters and digits; a key cut short or glued to text.
  EXPECT_EQ(red("sk1_" + key.substr(3)), "sk1_3x9K" + E + "[redacted]");
  EXPECT_EQ(red(key.substr(0, 3 + 17)), "ak_3x9K" + E + "[redacted]");
  EXPECT_EQ(red(key.substr(0, 3 + 16)), key.substr(0, 3 + 16));  // a client id is public
  EXPECT_EQ(red(key + "x"), "ak_3x9K" + E + "[redacted]");
  EXPECT_EQ(red("x" + key), "xak_3x9K" + E + "[redacted]");
  EXPECT_EQ(red(key + "," + key), "ak_3x9K" + E + "[redacted]," + "ak_3x9K" + E + "[redacted]");
  // A long prefix keeps its first part: at most 10 characters belong to the key.
  EXPECT_EQ(red("abcdefghijklmn_" + key.substr(3)), "abcdefghijklmn_3x9K" + E + "[redacted]");
}

TEST(Redact, GeneratedKeysOfEveryPrefix) {
  for (const char *prefix : {"ak", "live", "t", "abcdefghij", "k9"}) {
    NewKey g = generate_key(prefix);
    std::string line = "LOG:  statement: SELECT apikeys.verify('" + g.key + "')";
    std::string out = red(line);
    EXPECT_EQ(out.find(g.key.substr(std::string(prefix).size() + 1 + 16)), std::string::npos) << g.key;
    EXPECT_NE(out.find(g.key.substr(0, std::string(prefix).size() + 5) + E + "[redacted]"), std::string::npos);
  }
}

TEST(Redact, Tokens) {
  std::string tok =
      "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiI0MiJ9.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_"
      "wW1gFWFOEjXk";
  EXPECT_EQ(red(tok), "eyJhbG" + E + "[redacted]");
  EXPECT_EQ(red("Bearer " + tok + " end"), "Bearer eyJhbG" + E + "[redacted] end");
  EXPECT_EQ(red("'" + tok.substr(0, 60) + "'"), "'eyJhbG" + E + "[redacted]'");  // cut after the first dot
  EXPECT_EQ(red("xeyJhbGciOiJIUzI1NiIsIm.abc"), "xeyJhbGciOiJIUzI1NiIsIm.abc");  // inside another word
  EXPECT_EQ(red("eyJhbGci.x"), "eyJhbGci.x");                                    // too short a head
}

TEST(Redact, HexSecrets) {
  std::string hex = "\\x9888cffd00112233445566778899aabbccddeeff00112233445566778899aabb";
  EXPECT_EQ(red("Failing row contains (k1, HS256, " + hex + ", null)."),
            "Failing row contains (k1, HS256, \\x9888" + E + "[redacted], null).");
  EXPECT_EQ(red("\\x0123456789abcdef0123456789abcde"), "\\x0123456789abcdef0123456789abcde");  // 31 digits
}

TEST(Redact, AsciiEllipsis) {
  Redaction ascii{"..."};
  EXPECT_EQ(red("ak_3x9Kq2mP7wZ1bC4dAbCdEfGh", ascii), "ak_3x9K...[redacted]");
}
