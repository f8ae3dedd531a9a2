// Shared glue between PostgreSQL and the core: headers, the error boundary, GUC values.
#pragma once

#include "../core/core.hpp"

#include <openssl/crypto.h>

#include <cstring>
#include <new>

extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
}

namespace apikeys::glue {

// What a failed core call left behind: plain storage, no destructor.
struct CoreFailure {
  char sqlstate[6];
  char message[256];
};

// Runs a core call; a C++ exception becomes a CoreFailure. The call must not use any
// PostgreSQL function that can raise an error.
template <typename F>
bool run_core(F &&f, CoreFailure *fail) noexcept {
  const char *state = "XX000";
  const char *msg = "internal error in apikeys";
  try {
    f();
    return true;
  } catch (const core::Error &e) {
    state = e.sqlstate();
    std::strncpy(fail->message, e.what(), sizeof fail->message - 1);
    fail->message[sizeof fail->message - 1] = '\0';
    std::memcpy(fail->sqlstate, state, 5);
    fail->sqlstate[5] = '\0';
    return false;
  } catch (const std::bad_alloc &) {
    state = "53200";
    msg = "out of memory";
  } catch (...) {
  }
  std::memcpy(fail->sqlstate, state, 5);
  fail->sqlstate[5] = '\0';
  std::strncpy(fail->message, msg, sizeof fail->message - 1);
  fail->message[sizeof fail->message - 1] = '\0';
  return false;
}

// The bytes of a text Datum (detoasted if needed; valid while the Datum is).
inline std::string_view text_view(Datum d) {
  text *t = DatumGetTextPP(d);
  return std::string_view(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

// The elements of a text[] as views, palloc'd in the current context; a NULL element is a
// view with a null data() pointer. Sets *n to the number of elements.
std::string_view *text_array_views(ArrayType *arr, int *n);

// Raises the failure as a PostgreSQL error (called outside any catch block).
[[noreturn]] void report(const CoreFailure &fail);

// The server-side pepper (apikeys.pepper), or "" when none is configured.
const char *pepper();

// A verification outcome: code is one of the SPEC's codes; the details matter only when
// the code is VALID (palloc'd in the caller's context).
struct Verdict {
  const char *code;
  int64 key_id;
  text *tenant_id;
  text *owner;  // may be null
  bool has_set;
  int64 key_set_id;
  ArrayType *permissions;
  bool has_expiry;
  TimestampTz expires_at;
};

// The apikeys.verification row for a verdict (details only when VALID).
Datum verification_datum(FunctionCallInfo fcinfo, const Verdict &v);

// Binds a VALID verdict to the current transaction (authenticate, authenticate_token).
void bind(const Verdict &v);

// Clears the RLS binding (transaction end, failed authenticate).
void clear_binding();

// Verifies a presented key exactly as apikeys.verify does (MALFORMED without a table, then
// one probe of the keys primary key, a second of the client id index only for a key made by
// 1.0 or an unknown one, and the tenant switch from the backend's cache); required may be
// null. Never raises for a bad key. Used by apikeys.verify, apikeys.authenticate and apikeys.issue_token.
void verify_presented_key(Datum key, bool key_isnull, Datum required, bool required_isnull, Verdict *out);

// The current state of a key by id (for token revocation checks): VALID, NOT_FOUND,
// REVOKED, INACTIVE, EXPIRED or TENANT_DISABLED, in apikeys.verify's order. Reads one row
// of the keys (primary key) and, for an otherwise valid key, the tenant switch.
const char *key_state(int64 key_id);

// Defines the access-token settings (apikeys.token_issuer); called from _PG_init.
void define_token_settings();

}  // namespace apikeys::glue
