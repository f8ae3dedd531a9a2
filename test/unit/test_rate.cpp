// Unit tests of the rate limiter (core::rate_of, core::admit).
#include "../../src/core/rate.hpp"

#include <gtest/gtest.h>

#include <cstdint>

using namespace apikeys::core;

namespace {
constexpr int64_t kSecond = 1000000;

// Arrivals at `now`, as many as pass before the first refusal (at most `max`).
int burst(const Rate &r, int64_t *tat, int64_t now, int max) {
  int n = 0;
  int64_t next;
  while (n < max && admit(r, *tat, now, &next)) {
    *tat = next;
    n++;
  }
  return n;
}
}  // namespace

TEST(Rate, NoLimit) {
  for (auto [limit, window] : {std::pair<int64_t, int64_t>{0, kSecond}, {-1, kSecond}, {5, 0}, {5, -1}}) {
    Rate r = rate_of(limit, window);
    EXPECT_FALSE(r.limited());
    int64_t tat = 0, next = -1;
    EXPECT_TRUE(admit(r, tat, 1, &next));
    EXPECT_EQ(next, 0);
  }
}

TEST(Rate, ExactBurstFromAFreshState) {
  for (int64_t limit : {1, 2, 3, 7, 10, 100, 1000, 999983, 1000000, 5000000}) {
    for (int64_t window : {kSecond, 60 * kSecond, 3600 * kSecond, 7 * kSecond + 1}) {
      Rate r = rate_of(limit, window);
      int64_t tat = 0;
      int64_t now = 1700000000 * kSecond;
      EXPECT_EQ(burst(r, &tat, now, static_cast<int>(limit) + 10), limit) << limit << " per " << window;
    }
  }
}

TEST(Rate, RefusalDoesNotChangeTheState) {
  Rate r = rate_of(2, kSecond);
  int64_t tat = 0, now = 10 * kSecond, next = 0;
  ASSERT_EQ(burst(r, &tat, now, 5), 2);
  int64_t before = tat;
  EXPECT_FALSE(admit(r, tat, now, &next));
  EXPECT_EQ(tat, before);
}

TEST(Rate, RefillsOneIntervalAtATime) {
  Rate r = rate_of(100, kSecond);  // one every 10 ms
  int64_t tat = 0, now = 50 * kSecond;
  ASSERT_EQ(burst(r, &tat, now, 1000), 100);
  EXPECT_EQ(burst(r, &tat, now + 9999, 1000), 0);
  EXPECT_EQ(burst(r, &tat, now + 10000, 1000), 1);
  EXPECT_EQ(burst(r, &tat, now + 10000, 1000), 0);
  // After a whole window without arrivals the state is fresh again.
  EXPECT_TRUE(idle(tat, now + kSecond + 10000));
  EXPECT_EQ(burst(r, &tat, now + kSecond + 10000, 1000), 100);
}

TEST(Rate, NeverMoreThanTheLimitPerWindowPlusOneBurst) {
  // Arrivals every 100 us for 10 windows: at most limit * (windows + 1) pass.
  for (int64_t limit : {1, 3, 50, 333}) {
    Rate r = rate_of(limit, kSecond);
    int64_t tat = 0, next;
    int64_t passed = 0;
    int64_t start = 1000 * kSecond;
    for (int64_t t = start; t < start + 10 * kSecond; t += 100)
      if (admit(r, tat, t, &next)) {
        tat = next;
        passed++;
      }
    EXPECT_LE(passed, limit * 11) << limit;
    EXPECT_GE(passed, limit * 10) << limit;  // and the limit is honoured, not undercut
  }
}

TEST(Rate, SaturatesInsteadOfOverflowing) {
  Rate r = rate_of(INT64_MAX, INT64_MAX);
  EXPECT_TRUE(r.limited());
  int64_t next;
  EXPECT_TRUE(admit(r, 0, 0, &next));
  Rate slow = rate_of(1, INT64_MAX);
  EXPECT_TRUE(admit(slow, 0, 1, &next));
  EXPECT_EQ(next, INT64_MAX);
  EXPECT_FALSE(admit(slow, next, 2, &next));
}
