// Redaction of what looks like a secret in a line of text (the server log): a key of any
// prefix, an access token, a hex-encoded secret. Pure C++, no allocation: the caller sizes
// the output with redacted_size() and writes it with redact(). No PostgreSQL headers may be
// included with it.
#pragma once
#ifdef POSTGRES_H
#error "src/core must stay free of PostgreSQL headers: include core headers before postgres.h"
#endif

#include <cstddef>
#include <string_view>

namespace apikeys::core {

// What is redacted:
//  - a key: a prefix of 1 to 10 of [a-z0-9] right before '_', then at least 17 base62
//    characters (more than a client id holds: some of the secret), however the key is cut
//    or glued to other text; shown as the prefix, '_', the first 4 id characters, then the
//    marker ("ak_3x9K…[redacted]");
//  - an access token: "eyJ" (a base64url JSON object) and at least 7 more base64url
//    characters, then a '.' and whatever base64url and dots follow; shown as its first 6
//    characters and the marker;
//  - a hex secret: "\x" and at least 32 hex digits (16 bytes); shown as "\x", 4 digits and
//    the marker.
// ellipsis separates what is kept from "[redacted]" ("…" in UTF-8, "..." elsewhere).
struct Redaction {
  std::string_view ellipsis = "\xe2\x80\xa6";
};

constexpr std::string_view kRedactedMarker = "[redacted]";

// True if the text holds anything redact() would change. A scan, nothing more.
bool has_secret(std::string_view text) noexcept;
// The length of the redacted text (without a terminating NUL).
size_t redacted_size(std::string_view text, const Redaction &r = Redaction()) noexcept;
// Writes the redacted text to out (redacted_size() bytes, no NUL); returns the length.
size_t redact(std::string_view text, char *out, const Redaction &r = Redaction()) noexcept;

}  // namespace apikeys::core
