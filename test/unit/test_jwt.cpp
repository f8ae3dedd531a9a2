// Unit tests of the access-token core: RFC known answers, every rejection, round trips.
#include "../../src/core/jwt.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

using namespace apikeys::core;
using namespace apikeys::core::jwt;

namespace {

std::string b64d(std::string_view s) {
  std::string out;
  EXPECT_TRUE(b64url_decode(s, &out)) << s;
  return out;
}

// RFC 7515 appendix A.1: the HMAC key of the example (a JWK "oct" key).
const std::string kRfc7515Key =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
const std::string kRfc7515Token =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

// RFC 8037 appendix A: the Ed25519 key pair and the A.4 signature.
const std::string kRfc8037D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const std::string kRfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const std::string kRfc8037Jws =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

// A key table for the tests: kid "h" (HS256), "e" (EdDSA), "" (the RFC 7515 key, which
// has no kid) and "x" (the RFC 8037 key).
struct Keys {
  std::string hs_secret = std::string(32, '\x42');
  std::string ed_priv, ed_pub;
  std::string rfc7515 = b64d(kRfc7515Key);
  std::string rfc8037_d = b64d(kRfc8037D), rfc8037_x = b64d(kRfc8037X);
  Keys() {
    NewSigningKey k = generate_signing_key(Alg::EdDSA);
    ed_priv = k.secret;
    ed_pub = k.public_key;
  }
  KeyView hs() const { return KeyView{Alg::HS256, hs_secret, {}}; }
  KeyView ed() const { return KeyView{Alg::EdDSA, ed_priv, ed_pub}; }
};

bool lookup(void *ctx, std::string_view kid, KeyView *out) {
  const Keys *k = static_cast<const Keys *>(ctx);
  if (kid == "h")
    *out = k->hs();
  else if (kid == "e")
    *out = k->ed();
  else if (kid.empty())
    *out = KeyView{Alg::HS256, k->rfc7515, {}};
  else if (kid == "x")
    *out = KeyView{Alg::EdDSA, k->rfc8037_d, k->rfc8037_x};
  else if (kid == std::string(kMaxKidLen, 'L'))  // the longest kid
    *out = k->ed();
  else
    return false;
  return true;
}

constexpr int64_t kNow = 1800000000;

Claims sample_claims() {
  Claims c;
  c.iss = "apikeys";
  c.key_id = 4182005767717586912;
  c.tenant = "acme";
  c.has_owner = true;
  c.owner = "alice";
  c.has_key_set = true;
  c.key_set_id = 77;
  c.perms = {"reports:read", "export:*"};
  c.iat = c.nbf = kNow;
  c.exp = kNow + 8 * 3600;
  return c;
}

class Jwt : public ::testing::Test {
 protected:
  Keys keys;
  VerifyOptions opt() const {
    VerifyOptions o;
    o.issuer = "apikeys";
    o.now = kNow + 10;
    return o;
  }
  Status check(const std::string &token, Claims *out = nullptr) {
    Claims c;
    Status s = verify(token, lookup, &keys, opt(), &c);
    if (out) *out = c;
    return s;
  }
  // A token with the given header and payload JSON, signed with key kid's key.
  std::string forge(std::string_view header, std::string_view payload, const KeyView &key) {
    return sign_compact(header, payload, key);
  }
  std::string good_payload(std::string_view extra = "") {
    return std::string(
               R"({"iss":"apikeys","sub":"42","tenant":"acme","perms":["a"],"iat":1800000000,"exp":1800028800)") +
           std::string(extra) + "}";
  }
};

}  // namespace

// ---- base64url -----------------------------------------------------------------------------

TEST(Base64Url, Rfc4648Vectors) {
  const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    EXPECT_EQ(b64url_encode(plain[i]), enc[i]);
    std::string out;
    EXPECT_TRUE(b64url_decode(enc[i], &out));
    EXPECT_EQ(out, plain[i]);
  }
  EXPECT_EQ(b64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(b64url_encode("\xfb\xff\xbf"), "-_-_");
}

TEST(Base64Url, Strict) {
  std::string out;
  EXPECT_FALSE(b64url_decode("Zg==", &out));  // padding
  EXPECT_FALSE(b64url_decode("Zm8=", &out));
  EXPECT_FALSE(b64url_decode("Zm+v", &out));  // the standard alphabet's + and /
  EXPECT_FALSE(b64url_decode("Zm/v", &out));
  EXPECT_FALSE(b64url_decode("Zm9 v", &out));  // whitespace
  EXPECT_FALSE(b64url_decode("Zm9vY", &out));  // 4n+1 characters
  EXPECT_FALSE(b64url_decode("Zh", &out));     // non-zero unused bits: "Zg" is canonical
  EXPECT_FALSE(b64url_decode("Zm9", &out));    // "Zm8" is canonical
  EXPECT_FALSE(b64url_decode(std::string("Zm\0v", 4), &out));
  EXPECT_FALSE(b64url_decode("Zm\xc3\xa9", &out));
  EXPECT_TRUE(b64url_decode("Zm8", &out));
}

TEST(Base64Url, RoundTripEveryLength) {
  std::string data;
  for (int n = 0; n < 70; n++) {
    std::string out;
    ASSERT_TRUE(b64url_decode(b64url_encode(data), &out));
    EXPECT_EQ(out, data);
    data.push_back(static_cast<char>(n * 37 + 11));
  }
}

// ---- known answers ---------------------------------------------------------------------------

TEST_F(Jwt, Rfc7515A1Hs256) {
  // Re-signing the exact header and payload bytes gives the RFC's token.
  std::string h = b64d("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9");
  std::string p =
      b64d("eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ");
  EXPECT_EQ(h, "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}");
  EXPECT_EQ(sign_compact(h, p, KeyView{Alg::HS256, keys.rfc7515, {}}), kRfc7515Token);

  // It verifies (no kid: the lookup gets "") before its exp of 2011-03-22T18:43:00Z.
  VerifyOptions o;
  o.issuer = "joe";
  o.now = 1300819379;
  o.require_apikeys_claims = false;
  Claims c;
  EXPECT_EQ(verify(kRfc7515Token, lookup, &keys, o, &c), Status::Valid);
  EXPECT_EQ(c.iss, "joe");
  EXPECT_EQ(c.exp, 1300819380);
  o.now = 1300819380;
  EXPECT_EQ(verify(kRfc7515Token, lookup, &keys, o, &c), Status::Expired);
  o.now = 1300819379;
  o.issuer = "apikeys";
  EXPECT_EQ(verify(kRfc7515Token, lookup, &keys, o, &c), Status::WrongIssuer);
  // Without the relaxation it lacks sub, tenant and perms.
  o.issuer = "joe";
  o.require_apikeys_claims = true;
  EXPECT_EQ(verify(kRfc7515Token, lookup, &keys, o, &c), Status::Malformed);
  // One bit of the signature changed.
  std::string bad = kRfc7515Token;
  bad[bad.size() - 5] = bad[bad.size() - 5] == 'A' ? 'B' : 'A';
  o.require_apikeys_claims = false;
  EXPECT_EQ(verify(bad, lookup, &keys, o, &c), Status::InvalidSignature);
}

TEST_F(Jwt, Rfc8037A4Ed25519) {
  EXPECT_EQ(ed25519_public_key(keys.rfc8037_d), keys.rfc8037_x);
  std::string input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  std::string sig = ed25519_sign(keys.rfc8037_d, input);
  EXPECT_EQ(b64url_encode(sig),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
  EXPECT_TRUE(ed25519_verify(keys.rfc8037_x, input, sig));
  EXPECT_FALSE(ed25519_verify(keys.rfc8037_x, input + "x", sig));
  EXPECT_FALSE(ed25519_verify(keys.rfc8037_x, input, sig.substr(1)));
  EXPECT_FALSE(ed25519_verify(keys.rfc8037_x.substr(1), input, sig));
  EXPECT_EQ(sign_compact("{\"alg\":\"EdDSA\"}", "Example of Ed25519 signing",
                         KeyView{Alg::EdDSA, keys.rfc8037_d, keys.rfc8037_x}),
            kRfc8037Jws);
  // The JWS checks out against the public key; its payload is not a JWT claims set.
  std::string header_with_kid = b64url_encode("{\"alg\":\"EdDSA\",\"kid\":\"x\"}");
  std::string payload;
  // Without a kid the lookup gets "", here the RFC 7515 HMAC key: the algorithm does not match.
  EXPECT_EQ(verify_signature(kRfc8037Jws, lookup, &keys, &payload), Status::InvalidSignature);
  std::string with_kid = sign_compact("{\"alg\":\"EdDSA\",\"kid\":\"x\"}", "Example of Ed25519 signing",
                                      KeyView{Alg::EdDSA, keys.rfc8037_d, keys.rfc8037_x});
  EXPECT_EQ(with_kid.substr(0, with_kid.find('.')), header_with_kid);
  EXPECT_EQ(verify_signature(with_kid, lookup, &keys, &payload), Status::Valid);
  EXPECT_EQ(payload, "Example of Ed25519 signing");
  Claims c;
  EXPECT_EQ(check(with_kid, &c), Status::Malformed);
}

// ---- round trips -----------------------------------------------------------------------------

TEST_F(Jwt, RoundTripHs256) {
  Claims in = sample_claims();
  std::string token = sign("h", keys.hs(), in);
  EXPECT_EQ(token.find('='), std::string::npos);
  Claims out;
  ASSERT_EQ(check(token, &out), Status::Valid);
  EXPECT_EQ(out.iss, "apikeys");
  EXPECT_EQ(out.key_id, in.key_id);
  EXPECT_EQ(out.tenant, "acme");
  EXPECT_TRUE(out.has_owner);
  EXPECT_EQ(out.owner, "alice");
  EXPECT_TRUE(out.has_key_set);
  EXPECT_EQ(out.key_set_id, 77);
  EXPECT_EQ(out.perms, in.perms);
  EXPECT_EQ(out.iat, kNow);
  EXPECT_EQ(out.nbf, kNow);
  EXPECT_EQ(out.exp, kNow + 8 * 3600);
  EXPECT_EQ(out.jti.size(), 22u);  // 128 random bits
  // The header is {"alg","kid","typ"}, sub is a string.
  EXPECT_EQ(b64d(token.substr(0, token.find('.'))), R"({"alg":"HS256","kid":"h","typ":"JWT"})");
  std::string payload = b64d(token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1));
  EXPECT_NE(payload.find("\"sub\":\"4182005767717586912\""), std::string::npos);
  EXPECT_NE(payload.find("\"key_set_id\":\"77\""), std::string::npos);
  // Two tokens of the same claims differ by their jti.
  EXPECT_NE(sign("h", keys.hs(), in), token);
}

TEST_F(Jwt, RoundTripEdDsaWithoutOptionalClaims) {
  Claims in = sample_claims();
  in.has_owner = in.has_key_set = false;
  in.perms.clear();
  in.tenant = "t\xc3\xa9n\"ant\\";  // UTF-8 and JSON escapes survive
  std::string token = sign("e", keys.ed(), in);
  Claims out;
  ASSERT_EQ(check(token, &out), Status::Valid);
  EXPECT_FALSE(out.has_owner);
  EXPECT_FALSE(out.has_key_set);
  EXPECT_TRUE(out.perms.empty());
  EXPECT_EQ(out.tenant, in.tenant);
  EXPECT_EQ(b64d(token.substr(token.rfind('.') + 1)).size(), kEd25519SigLen);
}

TEST_F(Jwt, AllowedAddresses) {
  Claims in = sample_claims();
  EXPECT_FALSE(in.has_ips);
  std::string plain = sign("h", keys.hs(), in);
  Claims out;
  ASSERT_EQ(check(plain, &out), Status::Valid);
  EXPECT_FALSE(out.has_ips);
  EXPECT_EQ(b64d(plain.substr(plain.find('.') + 1, plain.rfind('.') - plain.find('.') - 1)).find("ips"),
            std::string::npos);

  in.has_ips = true;
  Network a, b;
  ASSERT_TRUE(parse_network("10.0.0.0/8", &a));
  ASSERT_TRUE(parse_network("2001:db8::/32", &b));
  in.ips = {a, b};
  std::string token = sign("h", keys.hs(), in);
  std::string payload = b64d(token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1));
  EXPECT_NE(payload.find(R"("ips":["10.0.0.0/8","2001:db8::/32"])"), std::string::npos);
  ASSERT_EQ(check(token, &out), Status::Valid);
  ASSERT_TRUE(out.has_ips);
  ASSERT_EQ(out.ips.size(), 2u);
  EXPECT_EQ(to_text(out.ips[0]), "10.0.0.0/8");
  EXPECT_EQ(to_text(out.ips[1]), "2001:db8::/32");

  // An empty list is a list: nothing is allowed.
  in.ips.clear();
  ASSERT_EQ(check(sign("h", keys.hs(), in), &out), Status::Valid);
  EXPECT_TRUE(out.has_ips);
  EXPECT_TRUE(out.ips.empty());

  // A network sign() cannot write is refused, and so is a claim that is not a list of them.
  in.ips = {Network{}};
  EXPECT_THROW(sign("h", keys.hs(), in), Error);
  KeyView k = keys.hs();
  const char *h = R"({"alg":"HS256","kid":"h"})";
  for (const char *bad : {R"(,"ips":"10.0.0.0/8")", R"(,"ips":["10.0.0.0"])", R"(,"ips":["10.0.0.0/33"])",
                          R"(,"ips":[1])", R"(,"ips":[["10.0.0.0/8"]])", R"(,"ips":null)", R"(,"ips":["x/8"])"})
    EXPECT_EQ(check(forge(h, good_payload(bad), k)), Status::Malformed) << bad;
}

TEST_F(Jwt, RateLimits) {
  Claims in = sample_claims();
  Claims out;
  ASSERT_EQ(check(sign("h", keys.hs(), in), &out), Status::Valid);
  EXPECT_FALSE(out.has_rate);
  in.has_rate = true;
  in.rate[0] = 100;
  in.rate[1] = 60000000;
  in.rate[3] = 0;
  in.rate[2] = 0;
  std::string token = sign("h", keys.hs(), in);
  std::string payload = b64d(token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1));
  EXPECT_NE(payload.find(R"("rl":[100,60000000,0,0])"), std::string::npos);
  ASSERT_EQ(check(token, &out), Status::Valid);
  ASSERT_TRUE(out.has_rate);
  EXPECT_EQ(out.rate[0], 100);
  EXPECT_EQ(out.rate[1], 60000000);
  EXPECT_EQ(out.rate[2], 0);
  in.rate[2] = -1;
  EXPECT_THROW(sign("h", keys.hs(), in), Error);
  KeyView k = keys.hs();
  const char *h = R"({"alg":"HS256","kid":"h"})";
  EXPECT_EQ(check(forge(h, good_payload(R"(,"rl":[1,2,3,4])"), k)), Status::Valid);
  for (const char *bad : {R"(,"rl":[1,2,3])", R"(,"rl":[1,2,3,4,5])", R"(,"rl":[1,2,3,-4])", R"(,"rl":[1,2,3,4.5])",
                          R"(,"rl":["1",2,3,4])", R"(,"rl":{})", R"(,"rl":null)", R"(,"rl":[1,2,3,[4]])"})
    EXPECT_EQ(check(forge(h, good_payload(bad), k)), Status::Malformed) << bad;
}

TEST(SigningKeys, Generate) {
  NewSigningKey h = generate_signing_key(Alg::HS256);
  EXPECT_TRUE(valid_kid(h.kid));
  EXPECT_EQ(h.secret.size(), 32u);
  EXPECT_TRUE(h.public_key.empty());
  NewSigningKey e = generate_signing_key(Alg::EdDSA);
  EXPECT_EQ(e.secret.size(), 32u);
  EXPECT_EQ(ed25519_public_key(e.secret), e.public_key);
  EXPECT_NE(generate_signing_key(Alg::HS256).secret, h.secret);
  Alg a;
  EXPECT_TRUE(parse_alg("EdDSA", &a));
  EXPECT_EQ(a, Alg::EdDSA);
  EXPECT_FALSE(parse_alg("none", &a));
  EXPECT_FALSE(parse_alg("hs256", &a));
  EXPECT_FALSE(valid_kid(""));
  EXPECT_FALSE(valid_kid("a b"));
  EXPECT_FALSE(valid_kid(std::string(65, 'a')));
}

TEST_F(Jwt, SignRefusesWhatATokenCannotCarry) {
  Claims c = sample_claims();
  EXPECT_THROW(sign("bad kid", keys.hs(), c), Error);
  c.tenant = "\xff\xfe";
  try {
    sign("h", keys.hs(), c);
    ADD_FAILURE() << "invalid UTF-8 signed";
  } catch (const Error &e) {
    EXPECT_STREQ(e.sqlstate(), "22021");
  }
  c = sample_claims();
  c.perms.assign(1000, std::string(100, 'p'));
  try {
    sign("h", keys.hs(), c);
    ADD_FAILURE() << "oversized token signed";
  } catch (const Error &e) {
    EXPECT_STREQ(e.sqlstate(), "54000");
  }
  c = sample_claims();
  c.key_id = 0;
  EXPECT_THROW(sign("h", keys.hs(), c), Error);
  c = sample_claims();
  EXPECT_THROW(sign("h", KeyView{Alg::HS256, "short", {}}, c), Error);
}

// ---- rejections ----------------------------------------------------------------------------

TEST_F(Jwt, AlgNone) {
  std::string token = sign("h", keys.hs(), sample_claims());
  std::string body = token.substr(token.find('.'), token.rfind('.') - token.find('.') + 1);
  std::string none = b64url_encode(R"({"alg":"none","kid":"h","typ":"JWT"})") + body;
  EXPECT_EQ(check(none), Status::InvalidSignature);  // empty signature
  EXPECT_EQ(check(none + token.substr(token.rfind('.') + 1)), Status::InvalidSignature);
  EXPECT_EQ(check(b64url_encode(R"({"alg":"none"})") + body), Status::InvalidSignature);  // no kid: ""
}

TEST_F(Jwt, AlgorithmConfusion) {
  // An HS256 token whose header is changed to claim EdDSA, signature kept or made anew.
  std::string p = good_payload();
  std::string hs = forge(R"({"alg":"HS256","kid":"h"})", p, keys.hs());
  ASSERT_EQ(check(hs), Status::Valid);
  std::string swapped = b64url_encode(R"({"alg":"EdDSA","kid":"h"})") + hs.substr(hs.find('.'));
  EXPECT_EQ(check(swapped), Status::InvalidSignature);
  EXPECT_EQ(check(forge(R"({"alg":"EdDSA","kid":"h"})", p, keys.ed())), Status::InvalidSignature);
  // An EdDSA key's public key used as an HMAC secret.
  std::string ed = forge(R"({"alg":"EdDSA","kid":"e"})", p, keys.ed());
  ASSERT_EQ(check(ed), Status::Valid);
  KeyView pub_as_secret{Alg::HS256, keys.ed_pub, {}};
  EXPECT_EQ(check(forge(R"({"alg":"HS256","kid":"e"})", p, pub_as_secret)), Status::InvalidSignature);
  // Other spellings and algorithms.
  EXPECT_EQ(check(forge(R"({"alg":"hs256","kid":"h"})", p, keys.hs())), Status::InvalidSignature);
  EXPECT_EQ(check(forge(R"({"alg":"HS512","kid":"h"})", p, keys.hs())), Status::InvalidSignature);
  EXPECT_EQ(check(forge(R"({"alg":"Ed25519","kid":"e"})", p, keys.ed())), Status::InvalidSignature);
}

TEST_F(Jwt, UnknownKey) {
  std::string p = good_payload();
  EXPECT_EQ(check(forge(R"({"alg":"HS256","kid":"other"})", p, keys.hs())), Status::UnknownKey);
  EXPECT_EQ(check(forge(R"({"alg":"HS256","kid":"H"})", p, keys.hs())), Status::UnknownKey);
  // No kid at all: the lookup gets "" (here the RFC 7515 key, so the signature fails).
  EXPECT_EQ(check(forge(R"({"alg":"HS256"})", p, keys.hs())), Status::InvalidSignature);
}

TEST_F(Jwt, BadBase64Url) {
  std::string t = sign("h", keys.hs(), sample_claims());
  ASSERT_EQ(check(t), Status::Valid);
  size_t d1 = t.find('.'), d2 = t.rfind('.');
  EXPECT_EQ(check(t + "="), Status::Malformed);  // padding
  EXPECT_EQ(check(t.substr(0, d1) + "=" + t.substr(d1)), Status::Malformed);
  EXPECT_EQ(check("+" + t.substr(1)), Status::Malformed);  // bad character
  EXPECT_EQ(check(t.substr(0, d2 + 1) + "/" + t.substr(d2 + 2)), Status::Malformed);
  EXPECT_EQ(check(t.substr(0, d1 + 1) + " " + t.substr(d1 + 1)), Status::Malformed);
  // The signature (32 bytes: 43 characters) ends in a character with 2 unused bits.
  std::string sig = t.substr(d2 + 1);
  ASSERT_EQ(sig.size(), 43u);
  std::string noncanon = t;
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t v = alphabet.find(noncanon.back());
  noncanon.back() = alphabet[v ^ 1];
  EXPECT_EQ(check(noncanon), Status::Malformed);
  noncanon.back() = alphabet[v ^ 2];
  EXPECT_EQ(check(noncanon), Status::Malformed);
  noncanon.back() = alphabet[v ^ 4];
  EXPECT_EQ(check(noncanon), Status::InvalidSignature);
}

TEST_F(Jwt, Shape) {
  std::string t = sign("h", keys.hs(), sample_claims());
  EXPECT_EQ(check(""), Status::Malformed);
  EXPECT_EQ(check("."), Status::Malformed);
  EXPECT_EQ(check(".."), Status::Malformed);
  EXPECT_EQ(check("a.b"), Status::Malformed);
  EXPECT_EQ(check(t + "."), Status::Malformed);
  EXPECT_EQ(check(t + ".AAAA"), Status::Malformed);
  EXPECT_EQ(check(t.substr(0, t.rfind('.'))), Status::Malformed);
  EXPECT_EQ(check(std::string(kMaxTokenLen + 1, 'A')), Status::Malformed);
  EXPECT_EQ(check("Bearer " + t), Status::Malformed);
}

TEST_F(Jwt, BadHeader) {
  std::string p = good_payload();
  EXPECT_EQ(check(forge("not json", p, keys.hs())), Status::Malformed);
  EXPECT_EQ(check(forge("[]", p, keys.hs())), Status::Malformed);
  EXPECT_EQ(check(forge("", p, keys.hs())), Status::Malformed);
  EXPECT_EQ(check(forge(R"({"kid":"h"})", p, keys.hs())), Status::Malformed);  // no alg
  EXPECT_EQ(check(forge(R"({"alg":1,"kid":"h"})", p, keys.hs())), Status::Malformed);
  EXPECT_EQ(check(forge(R"({"alg":"HS256","kid":7})", p, keys.hs())), Status::Malformed);
  EXPECT_EQ(check(forge(R"({"alg":"HS256","kid":"h","typ":"JOSE"})", p, keys.hs())), Status::Malformed);
  EXPECT_EQ(check(forge(R"({"alg":"HS256","kid":"h","typ":"jwt"})", p, keys.hs())), Status::Valid);
  EXPECT_EQ(check(forge(R"({"alg":"HS256","kid":"h","crit":["exp"]})", p, keys.hs())), Status::Malformed);
  // A duplicate member name could mean two things to two parsers.
  EXPECT_EQ(check(forge(R"({"alg":"HS256","kid":"e","kid":"h"})", p, keys.hs())), Status::Malformed);
  EXPECT_EQ(check(forge(R"({"alg":"HS256","kid":"h"} )", p, keys.hs())), Status::Valid);
  EXPECT_EQ(check(forge(R"({"alg":"HS256","kid":"h"} x)", p, keys.hs())), Status::Malformed);
  EXPECT_EQ(check(forge("{\"alg\":\"HS256\",\"kid\":\"h\",\"x\":\"\xff\"}", p, keys.hs())), Status::Malformed);
}

TEST_F(Jwt, BadClaims) {
  KeyView k = keys.hs();
  const char *h = R"({"alg":"HS256","kid":"h"})";
  EXPECT_EQ(check(forge(h, good_payload(), k)), Status::Valid);
  EXPECT_EQ(check(forge(h, "not json", k)), Status::Malformed);
  EXPECT_EQ(check(forge(h, "[1]", k)), Status::Malformed);
  EXPECT_EQ(check(forge(h, "", k)), Status::Malformed);
  // exp is required and numeric.
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":"42","tenant":"acme","perms":[]})", k)), Status::Malformed);
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":"42","tenant":"acme","perms":[],"exp":"1800028800"})", k)),
            Status::Malformed);
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":"42","tenant":"acme","perms":[],"exp":null})", k)),
            Status::Malformed);
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":"42","tenant":"acme","perms":[],"exp":-1})", k)),
            Status::Malformed);
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":"42","tenant":"acme","perms":[],"exp":1e300})", k)),
            Status::Malformed);
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":"42","tenant":"acme","perms":[],"exp":1800028800.5})", k)),
            Status::Valid);
  // sub, tenant, perms: present and well typed.
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","tenant":"acme","perms":[],"exp":1800028800})", k)), Status::Malformed);
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":42,"tenant":"acme","perms":[],"exp":1800028800})", k)),
            Status::Malformed);
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":"042","tenant":"acme","perms":[],"exp":1800028800})", k)),
            Status::Malformed);
  EXPECT_EQ(check(forge(
                h, R"({"iss":"apikeys","sub":"9223372036854775808","tenant":"acme","perms":[],"exp":1800028800})", k)),
            Status::Malformed);
  EXPECT_EQ(check(forge(
                h, R"({"iss":"apikeys","sub":"9223372036854775807","tenant":"acme","perms":[],"exp":1800028800})", k)),
            Status::Valid);
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":"42","perms":[],"exp":1800028800})", k)), Status::Malformed);
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":"42","tenant":"a\u0000b","perms":[],"exp":1800028800})", k)),
            Status::Malformed);
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":"42","tenant":"acme","exp":1800028800})", k)), Status::Malformed);
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":"42","tenant":"acme","perms":"a","exp":1800028800})", k)),
            Status::Malformed);
  EXPECT_EQ(check(forge(h, R"({"iss":"apikeys","sub":"42","tenant":"acme","perms":["a",1],"exp":1800028800})", k)),
            Status::Malformed);
  EXPECT_EQ(check(forge(h, good_payload(R"(,"owner":5)"), k)), Status::Malformed);
  EXPECT_EQ(check(forge(h, good_payload(R"(,"owner":null)"), k)), Status::Valid);
  EXPECT_EQ(check(forge(h, good_payload(R"(,"key_set_id":"x")"), k)), Status::Malformed);
  EXPECT_EQ(check(forge(h, good_payload(R"(,"iat":"now")"), k)), Status::Malformed);
  EXPECT_EQ(check(forge(h, good_payload(R"(,"exp":1900000000)"), k)), Status::Malformed);  // duplicate exp
  EXPECT_EQ(check(forge(h, good_payload(R"(,"extra":{"a":[1,{"b":null}]})"), k)), Status::Valid);
}

TEST_F(Jwt, Issuer) {
  KeyView k = keys.hs();
  const char *h = R"({"alg":"HS256","kid":"h"})";
  EXPECT_EQ(check(forge(h, R"({"iss":"evil","sub":"42","tenant":"acme","perms":[],"exp":1800028800})", k)),
            Status::WrongIssuer);
  EXPECT_EQ(check(forge(h, R"({"sub":"42","tenant":"acme","perms":[],"exp":1800028800})", k)), Status::WrongIssuer);
  EXPECT_EQ(check(forge(h, R"({"iss":["apikeys"],"sub":"42","tenant":"acme","perms":[],"exp":1800028800})", k)),
            Status::Malformed);
}

TEST_F(Jwt, Times) {
  KeyView k = keys.hs();
  const char *h = R"({"alg":"HS256","kid":"h"})";
  auto token = [&](int64_t iat, int64_t nbf, int64_t exp) {
    return forge(h,
                 R"({"iss":"apikeys","sub":"42","tenant":"acme","perms":[],"iat":)" + std::to_string(iat) +
                     ",\"nbf\":" + std::to_string(nbf) + ",\"exp\":" + std::to_string(exp) + "}",
                 k);
  };
  int64_t now = opt().now;
  EXPECT_EQ(check(token(now, now, now + 1)), Status::Valid);
  EXPECT_EQ(check(token(now - 100, now - 100, now)), Status::Expired);  // exp is exclusive
  EXPECT_EQ(check(token(now - 100, now - 100, now - 1)), Status::Expired);
  // nbf and iat may lie up to the clock skew ahead.
  EXPECT_EQ(check(token(now, now + kClockSkewSeconds, now + 3600)), Status::Valid);
  EXPECT_EQ(check(token(now, now + kClockSkewSeconds + 1, now + 3600)), Status::NotYetValid);
  EXPECT_EQ(check(token(now + kClockSkewSeconds, now, now + 3600)), Status::Valid);
  EXPECT_EQ(check(token(now + kClockSkewSeconds + 1, now, now + 3600)), Status::NotYetValid);
  // Expiry is decided first.
  EXPECT_EQ(check(token(now + 1000, now + 1000, now)), Status::Expired);
}

TEST_F(Jwt, Tampering) {
  std::string t = sign("h", keys.hs(), sample_claims());
  size_t d1 = t.find('.'), d2 = t.rfind('.');
  // Another payload under the same signature: more permissions.
  Claims more = sample_claims();
  more.perms = {"*"};
  std::string other = sign("h", KeyView{Alg::HS256, std::string(32, 'z'), {}}, more);
  std::string spliced =
      t.substr(0, d1) + other.substr(other.find('.'), other.rfind('.') - other.find('.')) + t.substr(d2);
  EXPECT_EQ(check(spliced), Status::InvalidSignature);
  // One character of the signature or of the payload changed.
  std::string s = t;
  s[d2 + 1] = s[d2 + 1] == 'A' ? 'B' : 'A';
  EXPECT_EQ(check(s), Status::InvalidSignature);
  std::string p = t;
  p[d1 + 5] = p[d1 + 5] == 'A' ? 'B' : 'A';
  EXPECT_NE(check(p), Status::Valid);
  // Signatures of the wrong length.
  std::string sig = b64d(t.substr(d2 + 1));
  EXPECT_EQ(check(t.substr(0, d2 + 1) + b64url_encode(sig.substr(0, 31))), Status::InvalidSignature);
  EXPECT_EQ(check(t.substr(0, d2 + 1) + b64url_encode(sig + "x")), Status::InvalidSignature);
  EXPECT_EQ(check(t.substr(0, d2 + 1)), Status::InvalidSignature);
  std::string e = sign("e", keys.ed(), sample_claims());
  std::string esig = b64d(e.substr(e.rfind('.') + 1));
  EXPECT_EQ(check(e.substr(0, e.rfind('.') + 1) + b64url_encode(esig.substr(0, 63))), Status::InvalidSignature);
  EXPECT_EQ(check(e.substr(0, e.rfind('.') + 1) + b64url_encode(esig + "x")), Status::InvalidSignature);
  esig[10] ^= 1;
  EXPECT_EQ(check(e.substr(0, e.rfind('.') + 1) + b64url_encode(esig)), Status::InvalidSignature);
}

TEST(Status, Codes) {
  EXPECT_STREQ(status_code(Status::Valid), "VALID");
  EXPECT_STREQ(status_code(Status::Malformed), "MALFORMED");
  EXPECT_STREQ(status_code(Status::InvalidSignature), "INVALID_SIGNATURE");
  EXPECT_STREQ(status_code(Status::UnknownKey), "UNKNOWN_KEY");
  EXPECT_STREQ(status_code(Status::WrongIssuer), "WRONG_ISSUER");
  EXPECT_STREQ(status_code(Status::Expired), "EXPIRED");
  EXPECT_STREQ(status_code(Status::NotYetValid), "NOT_YET_VALID");
}

TEST_F(Jwt, HeaderMemoIsByteExact) {
  // verify_signature remembers the last header it parsed; only identical bytes reuse it.
  std::string p = good_payload();
  std::string a = forge(R"({"alg":"HS256","kid":"h"})", p, keys.hs());
  std::string b = forge(R"({"alg":"EdDSA","kid":"e"})", p, keys.ed());
  for (int i = 0; i < 3; i++) {
    EXPECT_EQ(check(a), Status::Valid);
    EXPECT_EQ(check(a), Status::Valid);
    EXPECT_EQ(check(b), Status::Valid);
  }
  EXPECT_EQ(check(a), Status::Valid);
  // The same signature under a header that differs in one byte is checked afresh.
  std::string swapped = b64url_encode(R"({"alg":"HS256","kid":"e"})") + a.substr(a.find('.'));
  EXPECT_EQ(check(swapped), Status::InvalidSignature);
  std::string none = b64url_encode(R"({"alg":"none","kid":"h"})") + a.substr(a.find('.'));
  EXPECT_EQ(check(none), Status::InvalidSignature);
  std::string bad_b64 = "=" + a;
  EXPECT_EQ(check(bad_b64), Status::Malformed);
  EXPECT_EQ(check(a), Status::Valid);
}

// ---- bounds (what is parsed before the signature is checked costs what a real token costs) ---

namespace {

// {"alg":"HS256","kid":"h" followed by n members "m0":0, "m1":0, ... and the closing brace.
std::string header_with_members(size_t n) {
  std::string h = R"({"alg":"HS256","kid":"h")";
  for (size_t i = 0; i < n; i++) h += ",\"m" + std::to_string(i) + "\":0";
  return h + "}";
}

// A JSON object of exactly len bytes: the given members and a string member "pad".
std::string padded(std::string_view members, size_t len) {
  std::string s = "{" + std::string(members) + ",\"pad\":\"";
  s += std::string(len - s.size() - 2, 'p');
  return s + "\"}";
}

// The largest n for which sign() accepts make(n) (n + 1 refused with 54000).
template <typename Make>
size_t largest_signable(const std::string &kid, const KeyView &key, Make make) {
  size_t lo = 0, hi = kMaxTokenLen;  // sign(make(lo)) succeeds, sign(make(hi)) does not
  while (hi - lo > 1) {
    size_t mid = (lo + hi) / 2;
    try {
      sign(kid, key, make(mid));
      lo = mid;
    } catch (const Error &e) {
      EXPECT_STREQ(e.sqlstate(), "54000");
      hi = mid;
    }
  }
  return lo;
}

}  // namespace

TEST_F(Jwt, HeaderMemberBound) {
  std::string p = good_payload();
  // alg, kid and kMaxHeaderMembers - 2 more: the bound itself is accepted.
  EXPECT_EQ(check(forge(header_with_members(kMaxHeaderMembers - 2), p, keys.hs())), Status::Valid);
  EXPECT_EQ(check(forge(header_with_members(kMaxHeaderMembers - 1), p, keys.hs())), Status::Malformed);
  // A duplicate is still found among many members.
  std::string dup = header_with_members(kMaxHeaderMembers - 3);
  dup.insert(dup.size() - 1, ",\"m0\":1");
  EXPECT_EQ(check(forge(dup, p, keys.hs())), Status::Malformed);
  // Nested objects do not count against the bound.
  std::string nested = R"({"alg":"HS256","kid":"h","x":)" + header_with_members(kMaxHeaderMembers) + "}";
  EXPECT_EQ(check(forge(nested, p, keys.hs())), Status::Valid);
}

TEST_F(Jwt, HeaderSizeBound) {
  std::string p = good_payload();
  std::string at = padded(R"("alg":"HS256","kid":"h")", kMaxHeaderLen);
  ASSERT_EQ(at.size(), kMaxHeaderLen);
  EXPECT_EQ(check(forge(at, p, keys.hs())), Status::Valid);
  std::string over = padded(R"("alg":"HS256","kid":"h")", kMaxHeaderLen + 1);
  EXPECT_EQ(check(forge(over, p, keys.hs())), Status::Malformed);
  EXPECT_EQ(check(forge(over + "  ", p, keys.hs())), Status::Malformed);
  // The bound is on the base64url segment: one longer than any header of kMaxHeaderLen bytes
  // is refused whatever it holds.
  std::string t = forge(at, p, keys.hs());
  EXPECT_EQ(check("A" + t), Status::Malformed);
}

TEST_F(Jwt, ForgedHeaderOfManyMembersIsRefused) {
  // The review's attack: a header of 6,000 members (about 48 kB, a 64 kB token), made
  // different for every call so that no memo helps; refused before it is parsed.
  std::string h = R"({"alg":"HS256","kid":"h")";
  for (int i = 0; i < 6000; i++)
    h += ",\"" +
         b64url_encode(std::string(1, static_cast<char>(i % 256)) + std::string(1, static_cast<char>(i / 256))) +
         "\":0";
  h += "}";
  const std::string attacker_secret(32, 'x');  // a KeyView only views its secret
  KeyView attacker{Alg::HS256, attacker_secret, {}};
  for (int v = 0; v < 3; v++) {
    std::string t = forge(h, good_payload(",\"v\":" + std::to_string(v)), attacker);
    ASSERT_LE(t.size(), kMaxTokenLen);
    EXPECT_EQ(check(t), Status::Malformed);
    EXPECT_EQ(check(forge(h, good_payload(",\"v\":" + std::to_string(v)), keys.hs())), Status::Malformed);
  }
}

TEST_F(Jwt, ClaimsBounds) {
  KeyView k = keys.hs();
  const char *h = R"({"alg":"HS256","kid":"h"})";
  // good_payload has 6 members.
  auto members = [](size_t n) {
    std::string extra;
    for (size_t i = 0; i < n; i++) extra += ",\"c" + std::to_string(i) + "\":null";
    return extra;
  };
  EXPECT_EQ(check(forge(h, good_payload(members(kMaxClaimsMembers - 6)), k)), Status::Valid);
  EXPECT_EQ(check(forge(h, good_payload(members(kMaxClaimsMembers - 5)), k)), Status::Malformed);
  // Elements of a top-level array, whichever claim; nested arrays are bounded by the size.
  auto array = [](const char *name, size_t n) {
    std::string a = std::string(",\"") + name + "\":[";
    for (size_t i = 0; i < n; i++) a += i ? ",0" : "0";
    return a + "]";
  };
  EXPECT_EQ(check(forge(h, good_payload(array("extra", kMaxClaimElements)), k)), Status::Valid);
  EXPECT_EQ(check(forge(h, good_payload(array("extra", kMaxClaimElements + 1)), k)), Status::Malformed);
  EXPECT_EQ(check(forge(h, good_payload(",\"extra\":[" + array("x", kMaxClaimElements + 1).substr(5) + "]"), k)),
            Status::Valid);
  // The size of the claims, when verify_claims is called alone.
  Claims c;
  std::string at = padded(R"("iss":"apikeys","sub":"42","tenant":"acme","perms":[],"exp":1800028800)", kMaxClaimsLen);
  EXPECT_EQ(verify_claims(at, opt(), &c), Status::Valid);
  std::string over =
      padded(R"("iss":"apikeys","sub":"42","tenant":"acme","perms":[],"exp":1800028800)", kMaxClaimsLen + 1);
  EXPECT_EQ(verify_claims(over, opt(), &c), Status::Malformed);
}

TEST_F(Jwt, LargestTokensTheIssuerMakesVerify) {
  // Every claim sign() writes, the longest kid, and as many permissions (or networks) as
  // kMaxTokenLen lets sign() put in a token.
  const std::string kid(kMaxKidLen, 'L');
  Claims base = sample_claims();
  base.tenant = std::string(63, 't');
  base.owner = std::string(100, 'o');
  base.key_set_id = std::numeric_limits<int64_t>::max();
  base.has_rate = true;
  base.rate[0] = base.rate[1] = base.rate[2] = base.rate[3] = std::numeric_limits<int64_t>::max();
  Network net;
  ASSERT_TRUE(parse_network("::/0", &net));  // the shortest text of a network
  for (const char *perm : {"a", ""}) {
    auto make = [&](size_t n) {
      Claims c = base;
      c.perms.assign(n, perm);
      return c;
    };
    size_t n = largest_signable(kid, keys.ed(), make);
    ASSERT_GT(n, 1000u) << perm;
    ASSERT_LE(n, kMaxClaimElements) << perm;
    std::string token = sign(kid, keys.ed(), make(n));
    EXPECT_GT(token.size(), kMaxTokenLen - 200);
    Claims out;
    ASSERT_EQ(check(token, &out), Status::Valid) << "\"" << perm << "\" x " << n;
    EXPECT_EQ(out.perms.size(), n);
  }
  auto with_ips = [&](size_t n) {
    Claims c = base;
    c.has_ips = true;
    c.ips.assign(n, net);
    return c;
  };
  size_t n = largest_signable(kid, keys.ed(), with_ips);
  ASSERT_GT(n, 1000u);
  Claims out;
  ASSERT_EQ(check(sign(kid, keys.ed(), with_ips(n)), &out), Status::Valid);
  EXPECT_EQ(out.ips.size(), n);
}
