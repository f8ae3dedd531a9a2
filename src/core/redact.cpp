// Redaction of secrets in a line of text.
#include "redact.hpp"

#include <cstring>

namespace apikeys::core {

namespace {

constexpr size_t kMinKeyRun = 17;  // base62 characters after '_': more than a client id
constexpr size_t kMaxPrefix = 10;
constexpr size_t kKeptId = 4;
constexpr size_t kMinTokenHead = 10;  // "eyJ" and 7 more before the first '.'
constexpr size_t kKeptToken = 6;
constexpr size_t kMinHexDigits = 32;
constexpr size_t kKeptHex = 4;

bool lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool base62(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool base64url(char c) { return base62(c) || c == '-' || c == '_'; }
bool hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// One secret found: [begin, end) of the text, of which the first `keep` bytes are kept.
struct Span {
  size_t begin = 0, end = 0, keep = 0;
};

// The next secret at or after `from` whose start is not before `floor` (what was already
// written); false if there is none.
// The characters a secret can be found at: '_' (a key), 'e' (a token), '\\' (a hex secret).
struct Starts {
  bool at[256] = {};
  constexpr Starts() {
    at[static_cast<unsigned char>('_')] = true;
    at[static_cast<unsigned char>('e')] = true;
    at[static_cast<unsigned char>('\\')] = true;
  }
};
constexpr Starts kStarts;

bool next_span(std::string_view t, size_t from, size_t floor, Span *out) {
  for (size_t i = from; i < t.size(); i++) {
    char c = t[i];
    if (!kStarts.at[static_cast<unsigned char>(c)]) continue;
    // An access token: "eyJ" not inside another base64url run.
    if (c == 'e' && i + 3 <= t.size() && t.compare(i, 3, "eyJ") == 0 && (i == 0 || !base64url(t[i - 1]))) {
      size_t j = i;
      while (j < t.size() && base64url(t[j])) j++;
      if (j - i >= kMinTokenHead && j < t.size() && t[j] == '.') {
        while (j < t.size() && (base64url(t[j]) || t[j] == '.')) j++;
        *out = Span{i, j, kKeptToken};
        return true;
      }
    }
    // A hex secret.
    if (c == '\\' && i + 1 < t.size() && t[i + 1] == 'x') {
      size_t j = i + 2;
      while (j < t.size() && hex(t[j])) j++;
      if (j - (i + 2) >= kMinHexDigits) {
        *out = Span{i, j, 2 + kKeptHex};
        return true;
      }
    }
    // A key: '_' after a prefix, then a long base62 run.
    if (c == '_' && i > 0 && lower_or_digit(t[i - 1])) {
      size_t j = i + 1;
      while (j < t.size() && base62(t[j])) j++;
      if (j - (i + 1) >= kMinKeyRun) {
        size_t b = i;
        while (b > floor && i - b < kMaxPrefix && lower_or_digit(t[b - 1])) b--;
        *out = Span{b, j, (i - b) + 1 + kKeptId};
        return true;
      }
      i = j > i ? j - 1 : i;  // the run cannot start a key again
    }
  }
  return false;
}

template <typename Sink>
void walk(std::string_view t, const Redaction &r, Sink &&sink) {
  size_t pos = 0;
  Span s;
  while (next_span(t, pos, pos, &s)) {
    sink(t.substr(pos, s.begin - pos));
    sink(t.substr(s.begin, s.keep));
    sink(r.ellipsis);
    sink(kRedactedMarker);
    pos = s.end;
  }
  sink(t.substr(pos));
}

}  // namespace

bool has_secret(std::string_view text) noexcept {
  Span s;
  return next_span(text, 0, 0, &s);
}

size_t redacted_size(std::string_view text, const Redaction &r) noexcept {
  size_t n = 0;
  walk(text, r, [&](std::string_view part) { n += part.size(); });
  return n;
}

size_t redact(std::string_view text, char *out, const Redaction &r) noexcept {
  size_t n = 0;
  walk(text, r, [&](std::string_view part) {
    if (!part.empty()) std::memcpy(out + n, part.data(), part.size());
    n += part.size();
  });
  return n;
}

}  // namespace apikeys::core
