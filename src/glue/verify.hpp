// The hot path: a presented key is checked without SPI or a nested executor (one probe of
// the keys primary key for a valid key), and the verdict follows the core's order.
#pragma once

#include "verification.hpp"

namespace apikeys::glue {

// Verifies a presented key as apikeys.verify does: MALFORMED without a table, then one probe
// of the keys primary key (a second, of the client id index, only for a key made by 1.0 or
// an unknown one), then the checks of core::decide. required may be null. Never raises for
// a bad key. Used by apikeys.verify, apikeys.authenticate and apikeys.issue_token.
void verify_presented_key(Datum key, bool key_isnull, Datum required, bool required_isnull, Verdict *out);

// The current state of a key by id, for token revocation checks: VALID, NOT_FOUND, REVOKED,
// INACTIVE, EXPIRED or TENANT_DISABLED, in verify's order. One probe of the keys primary key
// and, for an otherwise valid key, the tenant switch.
core::Code key_state(int64 key_id);

}  // namespace apikeys::glue
