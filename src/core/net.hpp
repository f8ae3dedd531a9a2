// IP networks as allowlists use them: an address (or a network) is allowed when it lies
// within one of a list's networks, as PostgreSQL's <<= operator decides. Pure C++: no
// PostgreSQL headers may be included with it.
#pragma once
#ifdef POSTGRES_H
#error "src/core must stay free of PostgreSQL headers: include core headers before postgres.h"
#endif

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace apikeys::core {

// An IPv4 or IPv6 address with a prefix length (an inet or cidr value).
struct Network {
  uint8_t family = 0;  // 4 or 6
  uint8_t bits = 0;    // prefix length: 0-32 or 0-128
  uint8_t addr[16] = {0};
};

// True if a lies within b: same family, a's prefix at least as long as b's, and the first
// b.bits bits equal (a <<= b). Addresses of the other family are never within.
bool within(const Network &a, const Network &b) noexcept;

// True if a lies within one of the n networks of list.
bool within_any(const Network &a, const Network *list, size_t n) noexcept;

// "10.0.0.0/8", "2001:db8::/32": the address as inet_ntop writes it and the prefix length.
std::string to_text(const Network &n);
// The reverse of to_text (an address, a slash and a prefix length of the family); false for
// anything else.
bool parse_network(std::string_view text, Network *out) noexcept;

}  // namespace apikeys::core
