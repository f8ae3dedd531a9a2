// The signing keys of the access tokens as verify_token reads them: every non-retired row of
// apikeys.signing_keys, cached in backend memory until the table is invalidated
// (relcache.hpp's rule), their secrets read from apikeys.signing_secrets; and
// apikeys._insert_signing_key.
#pragma once

#include "../core/jwt.hpp"
#include "boundary.hpp"

namespace apikeys::glue {

struct SigningKey {
  char *kid;
  size_t kid_len;
  core::jwt::Alg alg;
  bool current;
  unsigned char *secret;
  size_t secret_len;
  unsigned char *public_key;
  size_t public_key_len;
};

// Makes the cache current (reads the table only after an invalidation). The keys it holds
// stay valid until the next call.
void load_signing_keys();
// The current signing key, or null.
const SigningKey *current_signing_key();
// The core's key lookup: by kid among the cached keys; no backend call.
bool signing_key_lookup(void *ctx, std::string_view kid, core::jwt::KeyView *out) noexcept;
core::jwt::KeyView key_view(const SigningKey &k) noexcept;

// From _PG_init: makes apikeys.signing_keys known to the relcache callback.
void signing_keys_init();

}  // namespace apikeys::glue
