// The verification verdict: the codes verify answers, and the order in which a key's checks
// are applied. Pure C++: no PostgreSQL headers may be included with it.
#pragma once
#ifdef POSTGRES_H
#error "src/core must stay free of PostgreSQL headers: include core headers before postgres.h"
#endif

#include <cstdint>
#include <string_view>

namespace apikeys::core {

// Every answer of verify, authenticate and the token functions. The numbering is stable
// (usage counters are indexed by it); kCodeCount bounds it. The last four are answered by the
// token functions only, for a token whose signature or issuer is wrong, whose signing key is
// unknown, or that is not valid yet.
enum class Code : uint8_t {
  Valid,
  Malformed,
  NotFound,
  Revoked,
  Inactive,
  Expired,
  TenantDisabled,
  OwnerDisabled,
  Forbidden,
  InsufficientPermissions,
  RateLimited,
  InvalidSignature,
  UnknownKey,
  WrongIssuer,
  NotYetValid,
};
constexpr int kCodeCount = 15;
// The codes a key's verification can answer (VALID .. RATE_LIMITED).
constexpr int kKeyCodeCount = 11;

// "VALID", "MALFORMED", "NOT_FOUND", "REVOKED", "INACTIVE", "EXPIRED", "TENANT_DISABLED",
// "OWNER_DISABLED", "FORBIDDEN", "INSUFFICIENT_PERMISSIONS", "RATE_LIMITED",
// "INVALID_SIGNATURE", "UNKNOWN_KEY", "WRONG_ISSUER", "NOT_YET_VALID".
const char *code_text(Code c) noexcept;
// The code a text names; false for anything else.
bool parse_code(std::string_view text, Code *out) noexcept;

// An answer about a known key (every code of a key's verification but MALFORMED and
// NOT_FOUND): it is counted for that key. A token's own faults name no key.
constexpr bool identifies_key(Code c) noexcept {
  return c != Code::Malformed && c != Code::NotFound && static_cast<int>(c) < kKeyCodeCount;
}

// A key's stored status. Anything but 'active' and 'revoked' reads as inactive.
enum class KeyStatus : uint8_t { Active, Inactive, Revoked };
KeyStatus parse_key_status(std::string_view text) noexcept;

// What a key's own row says, once its secret matched: status and expiry (microseconds on
// any clock, compared with `now` on the same clock).
struct KeyState {
  KeyStatus status = KeyStatus::Inactive;
  bool has_expiry = false;
  int64_t expires_at = 0;
};

// The rules every part of apikeys uses for a key's life (the triggers' limits, purge, the
// reminders, verify):
// expired: expires_at <= now;
constexpr bool expired(const KeyState &k, int64_t now) noexcept { return k.has_expiry && k.expires_at <= now; }
// live: not revoked and not expired (what max_keys_per_owner counts);
constexpr bool is_live(const KeyState &k, int64_t now) noexcept {
  return k.status != KeyStatus::Revoked && !expired(k, now);
}
// counted in its set: active and not expired (what max_active_keys_per_set counts).
constexpr bool counts_in_set(const KeyState &k, int64_t now) noexcept {
  return k.status == KeyStatus::Active && !expired(k, now);
}

// The key's own part of the order: REVOKED, INACTIVE, EXPIRED, else VALID.
Code key_state_code(const KeyState &k, int64_t now) noexcept;

// The whole order of a found key whose secret matched: the key's own state, then
// TENANT_DISABLED, OWNER_DISABLED, FORBIDDEN, INSUFFICIENT_PERMISSIONS, RATE_LIMITED; the
// first that applies is the answer. The checks are asked lazily, in that order, and only
// while the answer is still VALID, so a check that costs (a cache probe) or consumes (the
// rate limit takes a unit of the key's allowance) runs only when it decides:
//   bool tenant_enabled(), bool owner_enabled(), bool address_allowed(),
//   bool permissions_held(), bool rate_allowed().
template <typename Checks>
Code decide(const KeyState &k, int64_t now, Checks &checks) {
  Code own = key_state_code(k, now);
  if (own != Code::Valid) return own;
  if (!checks.tenant_enabled()) return Code::TenantDisabled;
  if (!checks.owner_enabled()) return Code::OwnerDisabled;
  if (!checks.address_allowed()) return Code::Forbidden;
  if (!checks.permissions_held()) return Code::InsufficientPermissions;
  if (!checks.rate_allowed()) return Code::RateLimited;
  return Code::Valid;
}

}  // namespace apikeys::core
