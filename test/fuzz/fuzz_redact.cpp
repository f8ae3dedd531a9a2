// libFuzzer target for the log redaction (make fuzz). The first input byte picks a property,
// the rest is the input; a violated property aborts:
//   0: redact() of arbitrary text, with either ellipsis, writes exactly redacted_size()
//      bytes into a buffer of that size (ASan checks it), and changes the text exactly when
//      has_secret() says so; with "…" it leaves nothing that has_secret() would find;
//   1: a secret (a generated key, a signed token, a hex secret) put between two parts of the
//      input is never shown: what is hidden of it does not appear in the output.
// With the ASCII ellipsis a second pass may find something: "eyJ" before a key, the key's
// kept part and "..." look like the head of a token ("!eyJak_3x9K...[redacted]"). A second
// pass would only shorten that further, never show more, so there it is not checked.
#include "../../src/core/jwt.hpp"
#include "../../src/core/redact.hpp"
#include "fuzz.hpp"

#include <memory>
#include <string>

using namespace apikeys::core;
using apikeys::fuzz::check;

namespace {

std::string redacted(std::string_view text, const Redaction &r) {
  size_t n = redacted_size(text, r);
  // Exactly n bytes on the heap, so that a write past them is an ASan report.
  std::unique_ptr<char[]> buf(new char[n == 0 ? 1 : n]);
  check(redact(text, buf.get(), r) == n);
  return std::string(buf.get(), n);
}

void check_text(std::string_view text) {
  Redaction ascii;
  ascii.ellipsis = "...";
  for (const Redaction &r : {Redaction(), ascii}) {
    std::string out = redacted(text, r);
    bool secret = has_secret(text);
    check(secret == (out != text));
    if (r.ellipsis == Redaction().ellipsis) check(!has_secret(out));
    if (secret) check(out.find(kRedactedMarker) != std::string::npos);
  }
}

bool base64url(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

void check_embedded(std::string_view in, unsigned which) {
  size_t nl = in.find('\n');
  std::string_view before = in.substr(0, nl), after = nl == std::string_view::npos ? "" : in.substr(nl + 1);
  std::string secret, hidden;
  switch (which % 3) {
    case 0: {
      // A prefix from the input when it is one, else "ak".
      std::string_view prefix = before.size() >= 1 && before.size() <= kMaxPrefixLen && valid_prefix(before)
                                    ? before
                                    : std::string_view("ak");
      NewKey k = generate_key(prefix);
      secret = k.key;
      hidden = k.key.substr(k.client_id.size());  // the secret and the checksum
      break;
    }
    case 1: {
      // A token is one only where it does not continue another base64url run.
      if (!before.empty() && base64url(before.back())) return;
      // Signed once: a token per input would cost more than the rest of the target.
      static const std::string token = [] {
        jwt::Claims c;
        c.iss = "apikeys";
        c.key_id = 42;
        c.tenant = "acme";
        c.perms = {"a"};
        c.exp = 1800000000;
        return jwt::sign("h", jwt::KeyView{jwt::Alg::HS256, std::string(32, 'k'), {}}, c);
      }();
      secret = token;
      hidden = secret.substr(secret.rfind('.') + 1);  // the signature
      // The fuzzer can learn it (libFuzzer watches memcmp): shown by the input, not by us.
      if (before.find(hidden) != std::string_view::npos || after.find(hidden) != std::string_view::npos) return;
      break;
    }
    case 2: {
      unsigned char bytes[32];
      random_bytes(bytes, sizeof bytes);
      static const char digits[] = "0123456789abcdef";
      secret = "\\x";
      for (unsigned char b : bytes) {
        secret.push_back(digits[b >> 4]);
        secret.push_back(digits[b & 15]);
      }
      hidden = secret.substr(6);
      break;
    }
  }
  std::string text = std::string(before) + secret + std::string(after);
  check(has_secret(text));
  Redaction ascii;
  ascii.ellipsis = "...";
  for (const Redaction &r : {Redaction(), ascii}) {
    std::string out = redacted(text, r);
    check(out.find(hidden) == std::string::npos);
    if (r.ellipsis == Redaction().ellipsis) check(!has_secret(out));
  }
}

}  // namespace

void apikeys::fuzz::run(unsigned selector, std::string_view in) {
  if (selector % 2 == 0)
    check_text(in);
  else
    check_embedded(in, selector / 2);
}
