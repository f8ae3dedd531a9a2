// Access tokens: issue_token, verify_token and authenticate_token, and their settings.
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// From _PG_init: defines apikeys.token_issuer.
void tokens_init();

}  // namespace apikeys::glue
