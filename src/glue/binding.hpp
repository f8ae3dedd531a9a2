// The transaction's binding: the key that authenticate or authenticate_token verified, kept
// in backend memory (no setting can forge it) until the transaction or the subtransaction
// that bound it ends; and the RLS helpers that read it.
#pragma once

#include "verification.hpp"

namespace apikeys::glue {

// Binds a VALID verdict to the current transaction; any other verdict clears the binding.
void bind_or_clear(const Verdict &v);

// From _PG_init: registers the callbacks that end the binding with its transaction.
void binding_init();

}  // namespace apikeys::glue
