// IP networks for allowlists.
#include "net.hpp"

#include <arpa/inet.h>

namespace apikeys::core {

bool within(const Network &a, const Network &b) noexcept {
  if (a.family != b.family || (a.family != 4 && a.family != 6)) return false;
  unsigned max_bits = a.family == 4 ? 32 : 128;
  if (b.bits > max_bits || a.bits > max_bits || a.bits < b.bits) return false;
  unsigned full = b.bits / 8, rest = b.bits % 8;
  for (unsigned i = 0; i < full; i++)
    if (a.addr[i] != b.addr[i]) return false;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (a.addr[full] & mask) == (b.addr[full] & mask);
}

bool within_any(const Network &a, const Network *list, size_t n) noexcept {
  for (size_t i = 0; i < n; i++)
    if (within(a, list[i])) return true;
  return false;
}

std::string to_text(const Network &n) {
  char buf[INET6_ADDRSTRLEN + 8];
  if ((n.family != 4 && n.family != 6) ||
      inet_ntop(n.family == 4 ? AF_INET : AF_INET6, n.addr, buf, sizeof buf) == nullptr)
    return std::string();
  return std::string(buf) + "/" + std::to_string(n.bits);
}

bool parse_network(std::string_view text, Network *out) noexcept {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash > INET6_ADDRSTRLEN) return false;
  if (text.substr(0, slash).find('\0') != std::string_view::npos) return false;  // inet_pton would stop there
  std::string_view bits = text.substr(slash + 1);
  if (bits.empty() || bits.size() > 3) return false;
  unsigned b = 0;
  for (char c : bits) {
    if (c < '0' || c > '9') return false;
    b = b * 10 + static_cast<unsigned>(c - '0');
  }
  char addr[INET6_ADDRSTRLEN + 1];
  text.copy(addr, slash);
  addr[slash] = '\0';
  Network n;
  if (inet_pton(AF_INET, addr, n.addr) == 1) {
    if (b > 32) return false;
    n.family = 4;
  } else if (inet_pton(AF_INET6, addr, n.addr) == 1) {
    if (b > 128) return false;
    n.family = 6;
  } else {
    return false;
  }
  n.bits = static_cast<uint8_t>(b);
  *out = n;
  return true;
}

}  // namespace apikeys::core
