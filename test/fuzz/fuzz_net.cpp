// libFuzzer target for the IP networks of the allowlists (make fuzz). The first input byte
// picks a property, the rest is the input; a violated property aborts:
//   0: parse_network of arbitrary text never crashes; what it accepts has a family and a
//      prefix length of that family, and to_text writes it back as a text that parses to
//      the same network and is written the same again;
//   1: within of networks made of raw input bytes (any family, any prefix length) agrees
//      with a bit-by-bit reference; on well-formed networks it is reflexive, antisymmetric
//      and transitive, the /0 of a family holds every network of it, and within_any is the
//      OR of within.
#include "../../src/core/net.hpp"
#include "fuzz.hpp"

#include <cstring>
#include <string>

using namespace apikeys::core;
using apikeys::fuzz::check;

namespace {

unsigned max_bits(const Network &n) { return n.family == 4 ? 32 : 128; }
bool well_formed(const Network &n) { return (n.family == 4 || n.family == 6) && n.bits <= max_bits(n); }
size_t addr_len(const Network &n) { return n.family == 4 ? 4 : 16; }

bool same(const Network &a, const Network &b) {
  return a.family == b.family && a.bits == b.bits && std::memcmp(a.addr, b.addr, addr_len(a)) == 0;
}

bool bit(const Network &n, unsigned i) { return (n.addr[i / 8] >> (7 - i % 8)) & 1; }

bool ref_within(const Network &a, const Network &b) {
  if (!well_formed(a) || !well_formed(b) || a.family != b.family || a.bits < b.bits) return false;
  for (unsigned i = 0; i < b.bits; i++)
    if (bit(a, i) != bit(b, i)) return false;
  return true;
}

void check_text(std::string_view in) {
  Network n;
  if (!parse_network(in, &n)) return;
  check(well_formed(n));
  check(in.find('/') != std::string_view::npos);
  std::string text = to_text(n);
  check(!text.empty());
  Network back;
  check(parse_network(text, &back) && same(back, n) && to_text(back) == text);
}

// Up to 3 networks of 18 bytes each: family (4, 6 or anything), prefix length, address.
size_t networks_from(std::string_view in, Network *out) {
  size_t n = 0;
  for (; n < 3 && in.size() >= 18 * (n + 1); n++) {
    const auto *p = reinterpret_cast<const unsigned char *>(in.data()) + 18 * n;
    Network &x = out[n];
    x.family = p[0] % 3 == 0 ? 4 : p[0] % 3 == 1 ? 6 : p[0];
    // Mostly a prefix length of the family, sometimes any byte.
    x.bits = p[1] >= 0xf0 ? p[1] : static_cast<uint8_t>(p[1] % (max_bits(x) + 1));
    std::memcpy(x.addr, p + 2, 16);
  }
  return n;
}

void check_within(std::string_view in) {
  Network nets[3];
  size_t n = networks_from(in, nets);
  for (size_t i = 0; i < n; i++) {
    const Network &a = nets[i];
    check(within(a, a) == well_formed(a));
    check(to_text(a).empty() == (a.family != 4 && a.family != 6));
    if (well_formed(a)) {
      Network all;
      all.family = a.family;
      all.bits = 0;
      check(within(a, all));
      Network back;
      check(parse_network(to_text(a), &back) && same(back, a));
    }
    for (size_t j = 0; j < n; j++) {
      const Network &b = nets[j];
      bool w = within(a, b);
      check(w == ref_within(a, b));
      if (w && within(b, a)) check(a.bits == b.bits);
      for (size_t k = 0; k < n; k++)
        if (w && within(b, nets[k])) check(within(a, nets[k]));
    }
    bool any = false;
    for (size_t j = 0; j < n; j++) any = any || within(a, nets[j]);
    check(within_any(a, nets, n) == any);
    check(!within_any(a, nets, 0));
  }
}

}  // namespace

void apikeys::fuzz::run(unsigned selector, std::string_view in) {
  if (selector % 2 == 0)
    check_text(in);
  else
    check_within(in);
}
