// The hot path: a presented key is checked without SPI or a nested executor (one probe of
// the keys primary key for a valid key), and the verdict follows the core's order.
#pragma once

#include "verification.hpp"

namespace apikeys::glue {

// What a caller presents: the key, the permissions it needs (text[]) and the address the
// request comes from (inet); each may be NULL.
struct Presented {
  Datum key = 0;
  bool key_null = true;
  Datum required = 0;
  bool required_null = true;
  Datum client_ip = 0;
  bool client_ip_null = true;
};

// Verifies a presented key as apikeys.verify does: MALFORMED without a table, then one probe
// of the keys primary key (a second, of the client id index, only for a key made by 1.0 or
// an unknown one), then the checks of core::decide (the tenant's and key set's settings from
// the backend's caches). Never raises for a bad key. Used by apikeys.verify,
// apikeys.authenticate and apikeys.issue_token.
void verify_presented_key(const Presented &p, Verdict *out);

// The current state of a key by id, for token revocation checks: VALID, NOT_FOUND, REVOKED,
// INACTIVE, EXPIRED, TENANT_DISABLED or OWNER_DISABLED, in verify's order. One probe of the
// keys primary key and, for an otherwise valid key, the tenant's settings.
core::Code key_state(int64 key_id);

}  // namespace apikeys::glue
