// Rate limits as the generic cell rate algorithm (GCRA): the whole state of a limiter is one
// number, the theoretical arrival time (TAT), so that shared memory can keep it in one 64-bit
// atomic and change it with compare-and-swap. Pure C++: no PostgreSQL headers may be included
// with it.
#pragma once
#ifdef POSTGRES_H
#error "src/core must stay free of PostgreSQL headers: include core headers before postgres.h"
#endif

#include <cstdint>

namespace apikeys::core {

// At most `limit` answers per `window_us` microseconds: answers are spaced `interval_us` =
// ceil(window / limit) apart on average, and up to `limit` of them may come at once from a
// fresh state (tolerance (limit - 1) * interval). So a burst is exactly `limit`, and over any
// long period no more than `limit` per window (plus the one burst) pass.
struct Rate {
  int64_t interval_us = 0;  // 0: no limit
  int64_t tolerance_us = 0;
  bool limited() const noexcept { return interval_us > 0; }
};

// The rate of a limit (positive) and window (positive microseconds); no limit for anything else.
Rate rate_of(int64_t limit, int64_t window_us) noexcept;

// One arrival at `now` against the state `tat` (0: fresh). True if it may pass, with the new
// state in *next; false if it must wait (the state does not change). Times in microseconds on
// any clock that only moves forward.
bool admit(const Rate &r, int64_t tat, int64_t now, int64_t *next) noexcept;

// True if a state `tat` is the same as a fresh one at `now` (nothing of it is left to wait).
constexpr bool idle(int64_t tat, int64_t now) noexcept { return tat <= now; }

}  // namespace apikeys::core
