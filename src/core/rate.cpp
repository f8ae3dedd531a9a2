// Rate limits as the generic cell rate algorithm.
#include "rate.hpp"

#include <limits>

namespace apikeys::core {

Rate rate_of(int64_t limit, int64_t window_us) noexcept {
  Rate r;
  if (limit <= 0 || window_us <= 0) return r;
  r.interval_us = window_us / limit + (window_us % limit != 0 ? 1 : 0);  // ceil: never faster than asked
  // (limit - 1) * interval, saturated: a window of years at a huge limit must not overflow.
  if (limit - 1 > std::numeric_limits<int64_t>::max() / r.interval_us)
    r.tolerance_us = std::numeric_limits<int64_t>::max() / 2;
  else
    r.tolerance_us = (limit - 1) * r.interval_us;
  return r;
}

bool admit(const Rate &r, int64_t tat, int64_t now, int64_t *next) noexcept {
  if (!r.limited()) {
    *next = tat;
    return true;
  }
  int64_t start = tat > now ? tat : now;
  if (start - now > r.tolerance_us) return false;
  // Saturate instead of wrapping: a state at the end of time only ever refuses.
  *next = start > std::numeric_limits<int64_t>::max() - r.interval_us ? std::numeric_limits<int64_t>::max()
                                                                      : start + r.interval_us;
  return true;
}

}  // namespace apikeys::core
