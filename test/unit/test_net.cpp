// Unit tests of the allowlist networks (core::within).
#include "../../src/core/net.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>

#include <string>

using namespace apikeys::core;

namespace {
// "10.1.2.3/8" or "2001:db8::/32" (bits default to the full length).
Network net(const std::string &text) {
  Network n;
  std::string addr = text;
  int bits = -1;
  size_t slash = text.find('/');
  if (slash != std::string::npos) {
    addr = text.substr(0, slash);
    bits = std::stoi(text.substr(slash + 1));
  }
  if (inet_pton(AF_INET, addr.c_str(), n.addr) == 1) {
    n.family = 4;
    n.bits = static_cast<uint8_t>(bits < 0 ? 32 : bits);
  } else if (inet_pton(AF_INET6, addr.c_str(), n.addr) == 1) {
    n.family = 6;
    n.bits = static_cast<uint8_t>(bits < 0 ? 128 : bits);
  }
  return n;
}
}  // namespace

TEST(Net, Ipv4) {
  EXPECT_TRUE(within(net("10.1.2.3"), net("10.0.0.0/8")));
  EXPECT_TRUE(within(net("10.1.2.3"), net("10.1.2.3/32")));
  EXPECT_FALSE(within(net("10.1.2.4"), net("10.1.2.3/32")));
  EXPECT_FALSE(within(net("11.0.0.1"), net("10.0.0.0/8")));
  EXPECT_TRUE(within(net("192.168.1.130"), net("192.168.1.128/25")));
  EXPECT_FALSE(within(net("192.168.1.127"), net("192.168.1.128/25")));
  EXPECT_TRUE(within(net("1.2.3.4"), net("0.0.0.0/0")));
  // A network within a network: a's prefix must be at least as long.
  EXPECT_TRUE(within(net("10.1.0.0/16"), net("10.0.0.0/8")));
  EXPECT_FALSE(within(net("10.0.0.0/8"), net("10.1.0.0/16")));
  EXPECT_TRUE(within(net("10.0.0.0/8"), net("10.0.0.0/8")));
}

TEST(Net, Ipv6) {
  EXPECT_TRUE(within(net("2001:db8::1"), net("2001:db8::/32")));
  EXPECT_FALSE(within(net("2001:db9::1"), net("2001:db8::/32")));
  EXPECT_TRUE(within(net("2001:db8:0:1::5"), net("2001:db8:0:1::/64")));
  EXPECT_FALSE(within(net("2001:db8:0:2::5"), net("2001:db8:0:1::/64")));
  EXPECT_TRUE(within(net("::1"), net("::/0")));
  EXPECT_TRUE(within(net("2001:db8::1"), net("2001:db8::1/128")));
  EXPECT_TRUE(within(net("2001:db8:8000::"), net("2001:db8:8000::/33")));
  EXPECT_FALSE(within(net("2001:db8:7fff::"), net("2001:db8:8000::/33")));
}

TEST(Net, FamiliesNeverMix) {
  EXPECT_FALSE(within(net("10.0.0.1"), net("::/0")));
  EXPECT_FALSE(within(net("::ffff:10.0.0.1"), net("10.0.0.0/8")));
  EXPECT_FALSE(within(Network{}, Network{}));
}

TEST(Net, WithinAny) {
  Network list[] = {net("10.0.0.0/8"), net("2001:db8::/32"), net("203.0.113.7")};
  EXPECT_TRUE(within_any(net("10.9.9.9"), list, 3));
  EXPECT_TRUE(within_any(net("203.0.113.7"), list, 3));
  EXPECT_TRUE(within_any(net("2001:db8::42"), list, 3));
  EXPECT_FALSE(within_any(net("203.0.113.8"), list, 3));
  EXPECT_FALSE(within_any(net("10.0.0.1"), list, 0));
}

// Every prefix length against a brute-force bit comparison.
TEST(Net, EveryPrefixLength) {
  Network a = net("2001:db8:1234:5678:9abc:def0:1357:9bdf");
  for (int bits = 0; bits <= 128; bits++) {
    Network b = a;
    b.bits = static_cast<uint8_t>(bits);
    // Flip the bit just after the prefix: still within; flip one inside: not.
    if (bits < 128) {
      Network c = a;
      c.addr[bits / 8] ^= static_cast<uint8_t>(0x80 >> (bits % 8));
      EXPECT_TRUE(within(c, b)) << bits;
    }
    if (bits > 0) {
      Network c = a;
      c.addr[(bits - 1) / 8] ^= static_cast<uint8_t>(0x80 >> ((bits - 1) % 8));
      EXPECT_FALSE(within(c, b)) << bits;
    }
  }
}

TEST(Net, TextRoundTrip) {
  for (const char *s : {"10.0.0.0/8", "203.0.113.7/32", "0.0.0.0/0", "2001:db8::/32", "::1/128", "::/0",
                        "2001:db8:1234:5678:9abc:def0:1357:9bdf/128", "::ffff:10.0.0.1/128"}) {
    Network n;
    ASSERT_TRUE(parse_network(s, &n)) << s;
    EXPECT_EQ(to_text(n), s);
    Network back;
    ASSERT_TRUE(parse_network(to_text(n), &back));
    EXPECT_TRUE(within(n, back) && within(back, n)) << s;
  }
  EXPECT_EQ(to_text(net("10.1.2.3/8")), "10.1.2.3/8");
  EXPECT_EQ(to_text(Network{}), "");
}

TEST(Net, ParseRefusesWhatToTextNeverWrites) {
  Network n;
  for (const char *s :
       {"", "/", "10.0.0.0", "10.0.0.0/", "/8", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8/8", "10.0.0.0/ 8",
        "10.0.0.0/0x8", "10.0.0/8", "2001:db8::/129", "2001:db8::/1000", "host/8", "10.0.0.0/8\n"})
    EXPECT_FALSE(parse_network(s, &n)) << s;
  EXPECT_FALSE(parse_network(std::string_view("10.0.0.0\0/8", 11), &n));
  std::string very_long(200, '1');
  EXPECT_FALSE(parse_network(very_long + "/8", &n));
}
