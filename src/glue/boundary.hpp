// The error boundary between PostgreSQL and C++: every SQL-callable function is declared with
// APIKEYS_FUNCTION, which catches any C++ exception its body lets out, keeps its SQLSTATE,
// and raises it as a PostgreSQL error only after the catch block is left. Also the text
// helpers every glue file uses, and the one way results leave a core call (the outbox).
#pragma once

// The core's headers come first: they refuse to be included after postgres.h.
#include "../core/core.hpp"
#include "../core/jwt.hpp"
#include "../core/net.hpp"
#include "../core/rate.hpp"
#include "../core/redact.hpp"
#include "../core/verdict.hpp"

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

extern "C" {
#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"
}

// Built and tested on PostgreSQL 15, 17 and 18. Where their C APIs differ, one #if on
// PG_VERSION_NUM at the call: relcache.cpp (index scans, the primary key), writes.cpp (the
// range table).
#if PG_VERSION_NUM < 150000
#error "apikeys needs PostgreSQL 15 or later"
#endif

namespace apikeys::glue {

// What a failed C++ call left behind: plain storage, no destructor.
struct CoreFailure {
  char sqlstate[6];
  char message[256];
};

// Runs a C++ call; an exception becomes a CoreFailure (core::Error keeps its SQLSTATE,
// std::bad_alloc is 53200, anything else XX000). The call must not use any PostgreSQL
// function that can raise an error.
template <typename F>
bool run_core(F &&f, CoreFailure *fail) noexcept;

// Raises the failure as a PostgreSQL error (called outside any catch block).
[[noreturn]] void report(const CoreFailure &fail);

// Calls a function body behind the boundary (what APIKEYS_FUNCTION expands to).
Datum guard(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo);

// Results of a core call on their way into palloc'd memory: inside run_core the core
// appends byte strings; after it the glue copies them out, then clear() wipes them. Static
// storage, so nothing here has a destructor that a PostgreSQL error could skip; whatever an
// error leaves behind is wiped when the transaction ends.
class Outbox {
 public:
  // Appends bytes; returns their index. May throw std::bad_alloc (inside run_core only).
  size_t put(std::string_view bytes);
  std::string_view get(size_t i) const;
  size_t size() const { return ends_.size(); }
  // Wipes the bytes and forgets them.
  void clear() noexcept;

 private:
  std::string bytes_;
  std::vector<size_t> ends_;  // where each field ends in bytes_
};
Outbox &outbox();

// palloc'd copies of an outbox field.
text *outbox_text(size_t i);
bytea *outbox_bytea(size_t i);

// The bytes of a text Datum (detoasted if needed; valid while the Datum is).
inline std::string_view text_view(Datum d) {
  text *t = DatumGetTextPP(d);
  return std::string_view(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

// The elements of a text[] as views, palloc'd in the current context; a NULL element is a
// view with a null data() pointer. Sets *n to the number of elements.
std::string_view *text_array_views(ArrayType *arr, int *n);

// From _PG_init: wipes the outbox when a transaction ends.
void boundary_init();

// ---- implementation ----------------------------------------------------------------------

namespace detail {
void fill(CoreFailure *fail, const char *sqlstate, const char *message) noexcept;
bool call_body(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo, Datum *result, CoreFailure *fail) noexcept;
}  // namespace detail

template <typename F>
bool run_core(F &&f, CoreFailure *fail) noexcept {
  try {
    f();
    return true;
  } catch (const core::Error &e) {
    detail::fill(fail, e.sqlstate(), e.what());
  } catch (const std::bad_alloc &) {
    detail::fill(fail, "53200", "out of memory");
  } catch (...) {
    detail::fill(fail, "XX000", "internal error in apikeys");
  }
  return false;
}

}  // namespace apikeys::glue

// Declares a SQL-callable C function `name` whose body runs behind the boundary:
//   APIKEYS_FUNCTION(apikeys_verify) { ... return datum; }
// The body has `fcinfo` as every V1 function does.
#define APIKEYS_FUNCTION(name)                                                       \
  extern "C" {                                                                       \
  PG_FUNCTION_INFO_V1(name);                                                         \
  }                                                                                  \
  static Datum name##_body(FunctionCallInfo fcinfo);                                 \
  Datum name(PG_FUNCTION_ARGS) { return apikeys::glue::guard(name##_body, fcinfo); } \
  static Datum name##_body(FunctionCallInfo fcinfo)
