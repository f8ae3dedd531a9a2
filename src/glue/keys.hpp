// Keys: generation of new keys and secrets, their ids, and the server-side pepper.
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// The server-side pepper (apikeys.pepper), or "" when none is configured.
const char *pepper();

// A new key for a prefix, or a new secret for a client id: client id, plaintext, hint and
// hash in fields 0-3 of the outbox (the caller copies them out and clears it). Returns the
// hash scheme (HMAC-SHA-256 when a pepper is configured).
core::Scheme new_key(const char *prefix, const char *client_id);

// From _PG_init: defines apikeys.pepper.
void keys_init();

}  // namespace apikeys::glue
