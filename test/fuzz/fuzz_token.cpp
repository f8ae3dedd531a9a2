// libFuzzer target for the access-token core (make fuzz; FUZZ_SECONDS=60 by default).
// The first input byte picks a property, the rest is the input:
//   0: verify() of arbitrary bytes never crashes, and a VALID answer has sane claims;
//   1: base64url decoding accepts exactly the canonical encodings (decode . encode = id);
//   2: verify_claims() of an arbitrary payload never crashes;
//   3: claims built from the input survive sign() + verify() unchanged, with HS256 and
//      EdDSA, and changing any one character of the token makes it fail.
#include "../../src/core/jwt.hpp"
#include "fuzz.hpp"

#include <string>

using namespace apikeys::core;
using namespace apikeys::core::jwt;
using apikeys::fuzz::check;

namespace {

constexpr int64_t kNow = 1800000000;

struct Keys {
  std::string hs = std::string(32, 'k');
  std::string ed_priv = std::string(32, 'e');
  std::string ed_pub = ed25519_public_key(ed_priv);
};
const Keys &keys() {
  static const Keys k;
  return k;
}

bool lookup(void *, std::string_view kid, KeyView *out) {
  if (kid == "h") {
    *out = KeyView{Alg::HS256, keys().hs, {}};
    return true;
  }
  if (kid == "e") {
    *out = KeyView{Alg::EdDSA, keys().ed_priv, keys().ed_pub};
    return true;
  }
  return false;
}

VerifyOptions options() {
  VerifyOptions o;
  o.issuer = "apikeys";
  o.now = kNow;
  return o;
}

// Splits the input into tenant, owner and permissions at newlines.
Claims claims_from(std::string_view in) {
  Claims c;
  c.iss = "apikeys";
  c.key_id = 1 + static_cast<int64_t>(in.size()) * 7919;
  c.iat = c.nbf = kNow - 10;
  c.exp = kNow + 3600;
  int field = 0;
  std::string cur;
  auto flush = [&] {
    if (field == 0)
      c.tenant = cur;
    else if (field == 1) {
      c.has_owner = !cur.empty();
      c.owner = cur;
    } else
      c.perms.push_back(cur);
    cur.clear();
    field++;
  };
  for (char ch : in) {
    if (ch == '\n')
      flush();
    else
      cur.push_back(ch);
  }
  flush();
  c.has_key_set = in.size() % 2 == 1;
  c.key_set_id = c.has_key_set ? 42 : 0;
  return c;
}

void round_trip(std::string_view in, bool eddsa) {
  Claims c = claims_from(in);
  std::string token;
  try {
    token = sign(eddsa ? "e" : "h",
                 eddsa ? KeyView{Alg::EdDSA, keys().ed_priv, keys().ed_pub} : KeyView{Alg::HS256, keys().hs, {}}, c);
  } catch (const Error &) {
    return;  // claims a token cannot carry (NUL, invalid UTF-8, too long)
  }
  Claims out;
  check(verify(token, lookup, nullptr, options(), &out) == Status::Valid);
  check(out.key_id == c.key_id && out.tenant == c.tenant && out.has_owner == c.has_owner && out.owner == c.owner &&
        out.perms == c.perms && out.has_key_set == c.has_key_set && out.key_set_id == c.key_set_id &&
        out.exp == c.exp && out.iat == c.iat && out.nbf == c.nbf);
  // Any one character changed: never VALID.
  size_t pos = in.empty() ? 0 : static_cast<unsigned char>(in[0]) * 131 % token.size();
  std::string bad = token;
  bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
  check(verify(bad, lookup, nullptr, options(), &out) != Status::Valid);
}

}  // namespace

void apikeys::fuzz::run(unsigned selector, std::string_view in) {
  switch (selector % 4) {
    case 0: {
      Claims c;
      Status s = verify(in, lookup, nullptr, options(), &c);
      if (s == Status::Valid) check(c.key_id > 0 && c.exp > kNow && c.iss == "apikeys");
      break;
    }
    case 1: {
      std::string out, back;
      if (b64url_decode(in, &out)) check(b64url_encode(out) == in);
      check(b64url_decode(b64url_encode(in), &back) && back == in);
      break;
    }
    case 2: {
      Claims c;
      verify_claims(in, options(), &c);
      break;
    }
    case 3:
      round_trip(in, (selector & 4) != 0);
      break;
  }
}
