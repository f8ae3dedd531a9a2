// Unit tests of the verdict: the codes' texts and the order of the checks.
#include "../../src/core/verdict.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace apikeys::core;

namespace {

// Checks with fixed answers that record which of them were asked, in order.
struct Recorder {
  bool tenant = true, owner = true, address = true, perms = true, rate = true;
  std::string asked;
  bool tenant_enabled() { return ask('t', tenant); }
  bool owner_enabled() { return ask('o', owner); }
  bool address_allowed() { return ask('a', address); }
  bool permissions_held() { return ask('p', perms); }
  bool rate_allowed() { return ask('r', rate); }

 private:
  bool ask(char c, bool answer) {
    asked.push_back(c);
    return answer;
  }
};

KeyState active() {
  KeyState k;
  k.status = KeyStatus::Active;
  return k;
}

}  // namespace

TEST(Verdict, CodeTextsRoundTrip) {
  const char *expected[kCodeCount] = {
      "VALID",        "MALFORMED",         "NOT_FOUND",      "REVOKED",      "INACTIVE",
      "EXPIRED",      "TENANT_DISABLED",   "OWNER_DISABLED", "FORBIDDEN",    "INSUFFICIENT_PERMISSIONS",
      "RATE_LIMITED", "INVALID_SIGNATURE", "UNKNOWN_KEY",    "WRONG_ISSUER", "NOT_YET_VALID"};
  for (int i = 0; i < kCodeCount; i++) {
    Code c = static_cast<Code>(i);
    EXPECT_STREQ(code_text(c), expected[i]);
    Code back = Code::Valid;
    ASSERT_TRUE(parse_code(expected[i], &back));
    EXPECT_EQ(back, c);
  }
  Code out;
  EXPECT_FALSE(parse_code("valid", &out));
  EXPECT_FALSE(parse_code("", &out));
  EXPECT_FALSE(parse_code("VALID ", &out));
}

TEST(Verdict, IdentifiesKey) {
  for (int i = 0; i < kCodeCount; i++) {
    Code c = static_cast<Code>(i);
    bool key_answer = i < kKeyCodeCount;
    EXPECT_EQ(identifies_key(c), key_answer && c != Code::Malformed && c != Code::NotFound) << code_text(c);
  }
}

TEST(Verdict, KeyStatus) {
  EXPECT_EQ(parse_key_status("active"), KeyStatus::Active);
  EXPECT_EQ(parse_key_status("revoked"), KeyStatus::Revoked);
  EXPECT_EQ(parse_key_status("inactive"), KeyStatus::Inactive);
  EXPECT_EQ(parse_key_status("Active"), KeyStatus::Inactive);
  EXPECT_EQ(parse_key_status(""), KeyStatus::Inactive);
}

TEST(Verdict, KeyStateOrder) {
  KeyState k = active();
  EXPECT_EQ(key_state_code(k, 100), Code::Valid);
  k.has_expiry = true;
  k.expires_at = 101;
  EXPECT_EQ(key_state_code(k, 100), Code::Valid);
  k.expires_at = 100;  // expires_at <= now is expired
  EXPECT_EQ(key_state_code(k, 100), Code::Expired);
  k.status = KeyStatus::Inactive;
  EXPECT_EQ(key_state_code(k, 100), Code::Inactive);  // INACTIVE before EXPIRED
  k.status = KeyStatus::Revoked;
  EXPECT_EQ(key_state_code(k, 100), Code::Revoked);  // REVOKED before INACTIVE and EXPIRED
}

TEST(Verdict, OwnStateAsksNothing) {
  for (KeyStatus s : {KeyStatus::Revoked, KeyStatus::Inactive}) {
    KeyState k;
    k.status = s;
    Recorder r;
    r.tenant = r.owner = r.address = r.perms = r.rate = false;
    EXPECT_EQ(decide(k, 0, r), s == KeyStatus::Revoked ? Code::Revoked : Code::Inactive);
    EXPECT_EQ(r.asked, "");
  }
  KeyState expired = active();
  expired.has_expiry = true;
  expired.expires_at = -5;
  Recorder r;
  EXPECT_EQ(decide(expired, 0, r), Code::Expired);
  EXPECT_EQ(r.asked, "");
}

// Every combination of the five checks: the first failing one in the order is the answer,
// the checks are asked in order up to it, and none after it (the rate limit is consumed
// only by an answer that would otherwise be VALID).
TEST(Verdict, EveryCombination) {
  const Code failing[5] = {Code::TenantDisabled, Code::OwnerDisabled, Code::Forbidden, Code::InsufficientPermissions,
                           Code::RateLimited};
  const char order[] = "toapr";
  for (int mask = 0; mask < 32; mask++) {
    Recorder r;
    r.tenant = !(mask & 1);
    r.owner = !(mask & 2);
    r.address = !(mask & 4);
    r.perms = !(mask & 8);
    r.rate = !(mask & 16);
    int first = -1;
    for (int i = 0; i < 5; i++)
      if (mask & (1 << i)) {
        first = i;
        break;
      }
    Code got = decide(active(), 0, r);
    EXPECT_EQ(got, first < 0 ? Code::Valid : failing[first]) << "mask " << mask;
    EXPECT_EQ(r.asked, std::string(order, first < 0 ? 5 : first + 1)) << "mask " << mask;
  }
}

TEST(Verdict, LifeRules) {
  for (KeyStatus s : {KeyStatus::Active, KeyStatus::Inactive, KeyStatus::Revoked})
    for (bool has_expiry : {false, true})
      for (int64_t at : {99, 100, 101}) {
        KeyState k;
        k.status = s;
        k.has_expiry = has_expiry;
        k.expires_at = at;
        bool exp = has_expiry && at <= 100;
        EXPECT_EQ(expired(k, 100), exp);
        EXPECT_EQ(is_live(k, 100), s != KeyStatus::Revoked && !exp);
        EXPECT_EQ(counts_in_set(k, 100), s == KeyStatus::Active && !exp);
        // A key that verifies is live and counted in its set.
        if (key_state_code(k, 100) == Code::Valid) {
          EXPECT_TRUE(is_live(k, 100) && counts_in_set(k, 100));
        }
      }
}
