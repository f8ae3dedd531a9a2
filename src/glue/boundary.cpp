// The error boundary, the outbox and the text helpers.
#include "boundary.hpp"

#include <openssl/crypto.h>

#include <new>

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
}

namespace apikeys::glue {

namespace detail {

void fill(CoreFailure *fail, const char *sqlstate, const char *message) noexcept {
  std::memcpy(fail->sqlstate, sqlstate, 5);
  fail->sqlstate[5] = '\0';
  std::strncpy(fail->message, message, sizeof fail->message - 1);
  fail->message[sizeof fail->message - 1] = '\0';
}

bool call_body(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo, Datum *result, CoreFailure *fail) noexcept {
  // An exception that left a PG_TRY block would leave these pointing into dead frames.
  sigjmp_buf *exception_stack = PG_exception_stack;
  ErrorContextCallback *context_stack = error_context_stack;
  if (run_core([&] { *result = body(fcinfo); }, fail)) return true;
  PG_exception_stack = exception_stack;
  error_context_stack = context_stack;
  return false;
}

}  // namespace detail

void report(const CoreFailure &fail) {
  ereport(
      ERROR,
      (errcode(MAKE_SQLSTATE(fail.sqlstate[0], fail.sqlstate[1], fail.sqlstate[2], fail.sqlstate[3], fail.sqlstate[4])),
       errmsg("%s", fail.message)));
  pg_unreachable();
}

Datum guard(Datum (*body)(FunctionCallInfo), FunctionCallInfo fcinfo) {
  CoreFailure fail;
  Datum result = (Datum)0;
  if (detail::call_body(body, fcinfo, &result, &fail)) return result;
  report(fail);
}

// ---- the outbox ---------------------------------------------------------------------------

size_t Outbox::put(std::string_view bytes) {
  ends_.reserve(ends_.size() + 1);
  bytes_.append(bytes.data(), bytes.size());
  ends_.push_back(bytes_.size());
  return ends_.size() - 1;
}

std::string_view Outbox::get(size_t i) const {
  size_t start = i == 0 ? 0 : ends_[i - 1];
  return std::string_view(bytes_.data() + start, ends_[i] - start);
}

void Outbox::clear() noexcept {
  // Every byte the string ever held lies within its capacity.
  if (bytes_.capacity() > 0) OPENSSL_cleanse(&bytes_[0], bytes_.size());
  bytes_.clear();
  ends_.clear();
}

Outbox &outbox() {
  static Outbox box;
  return box;
}

text *outbox_text(size_t i) {
  std::string_view v = outbox().get(i);
  return cstring_to_text_with_len(v.data(), static_cast<int>(v.size()));
}

bytea *outbox_bytea(size_t i) {
  std::string_view v = outbox().get(i);
  auto *b = static_cast<bytea *>(palloc(VARHDRSZ + v.size()));
  SET_VARSIZE(b, VARHDRSZ + v.size());
  std::memcpy(VARDATA(b), v.data(), v.size());
  return b;
}

// ---- text helpers ---------------------------------------------------------------------------

std::string_view *text_array_views(ArrayType *arr, int *n) {
  Datum *values;
  bool *nulls;
  deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &values, &nulls, n);
  auto *views = static_cast<std::string_view *>(palloc(sizeof(std::string_view) * (*n > 0 ? *n : 1)));
  for (int i = 0; i < *n; i++) views[i] = nulls[i] ? std::string_view() : text_view(values[i]);
  return views;
}

namespace {
void wipe_outbox(XactEvent event, void *) noexcept {
  if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_COMMIT ||
      event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PREPARE)
    outbox().clear();
}
}  // namespace

void boundary_init() { RegisterXactCallback(wipe_outbox, nullptr); }

}  // namespace apikeys::glue
