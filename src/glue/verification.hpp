// A verification outcome in the glue, and the apikeys.verification row it becomes.
#pragma once

#include "../core/verdict.hpp"
#include "boundary.hpp"
#include "settings.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace apikeys::glue {

// What verify, authenticate and the token functions found (palloc'd in the caller's
// context). key_id is set whenever the code identifies a key; the other details only
// matter, and are only shown, when the code is VALID.
struct Verdict {
  core::Code code;
  int64 key_id;
  text *tenant_id;
  text *owner;  // may be null
  bool has_set;
  int64 key_set_id;
  ArrayType *permissions;
  bool has_expiry;
  TimestampTz expires_at;
  AllowList allowed_ips;  // the list that applied (the key's, its set's or its tenant's)
  RateLimit key_rate;     // the limits that applied (0: none): the key's own, its set's or
  RateLimit tenant_rate;  // its tenant's per key; the tenant's for all its keys

  bool valid() const { return code == core::Code::Valid; }
};

// A verdict with nothing found yet.
inline Verdict verdict_of(core::Code code) {
  Verdict v{};
  v.code = code;
  return v;
}

// The apikeys.verification row for a verdict (details only when VALID).
Datum verification_datum(FunctionCallInfo fcinfo, const Verdict &v);

}  // namespace apikeys::glue
