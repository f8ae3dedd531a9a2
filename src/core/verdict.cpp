// The verification codes and the key's own part of the verdict order.
#include "verdict.hpp"

namespace apikeys::core {

namespace {
constexpr const char *kCodeText[kCodeCount] = {
    "VALID",        "MALFORMED",         "NOT_FOUND",      "REVOKED",      "INACTIVE",
    "EXPIRED",      "TENANT_DISABLED",   "OWNER_DISABLED", "FORBIDDEN",    "INSUFFICIENT_PERMISSIONS",
    "RATE_LIMITED", "INVALID_SIGNATURE", "UNKNOWN_KEY",    "WRONG_ISSUER", "NOT_YET_VALID",
};
}  // namespace

const char *code_text(Code c) noexcept {
  auto i = static_cast<unsigned>(c);
  return i < static_cast<unsigned>(kCodeCount) ? kCodeText[i] : "MALFORMED";
}

bool parse_code(std::string_view text, Code *out) noexcept {
  for (int i = 0; i < kCodeCount; i++)
    if (text == kCodeText[i]) {
      *out = static_cast<Code>(i);
      return true;
    }
  return false;
}

KeyStatus parse_key_status(std::string_view text) noexcept {
  if (text == "active") return KeyStatus::Active;
  if (text == "revoked") return KeyStatus::Revoked;
  return KeyStatus::Inactive;
}

Code key_state_code(const KeyState &k, int64_t now) noexcept {
  if (k.status == KeyStatus::Revoked) return Code::Revoked;
  if (k.status != KeyStatus::Active) return Code::Inactive;
  if (expired(k, now)) return Code::Expired;
  return Code::Valid;
}

}  // namespace apikeys::core
