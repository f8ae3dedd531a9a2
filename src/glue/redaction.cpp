// The server log's redaction: what looks like a secret (core/redact) is replaced by a marker
// in every field of a report, and the statement line is printed from a redacted copy. A
// report without a candidate costs one scan per field, nothing more. The hook never raises:
// its allocations fail softly (a field that cannot be copied becomes the bare marker, a
// statement that cannot be copied is hidden).
#include "redaction.hpp"

extern "C" {
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "tcop/tcopprot.h"
#include "utils/elog.h"
#include "utils/memutils.h"
}

namespace core = apikeys::core;

namespace {

emit_log_hook_type prev_emit_log_hook = nullptr;
bool preloaded = false;
char *redacted_statement = nullptr;  // TopMemoryContext: the statement line last printed redacted

core::Redaction redaction() {
  core::Redaction r;
  if (GetDatabaseEncoding() != PG_UTF8) r.ellipsis = "...";
  return r;
}

// The pepper's value never shows: a report naming the setting keeps only the name.
constexpr const char *kPepper = "\"apikeys.pepper\"";

// A redacted copy of s in cxt (s itself when there is nothing to redact, the bare marker when
// memory is short); null when even that fails.
char *redacted_copy(const char *s, MemoryContext cxt, bool *changed) {
  *changed = false;
  if (s == nullptr) return nullptr;
  std::string_view v(s);
  const char *pep = strstr(s, kPepper);
  if (pep != nullptr && (strstr(pep, " to \"") != nullptr || strstr(pep, ": \"") != nullptr)) {
    size_t keep = static_cast<size_t>(pep - s) + strlen(kPepper);
    char *out = static_cast<char *>(MemoryContextAllocExtended(cxt, keep + 16, MCXT_ALLOC_NO_OOM));
    if (out == nullptr) return nullptr;
    memcpy(out, s, keep);
    strcpy(out + keep, ": [redacted]");
    *changed = true;
    return out;
  }
  if (!core::has_secret(v)) return const_cast<char *>(s);
  core::Redaction r = redaction();
  size_t n = core::redacted_size(v, r);
  char *out = static_cast<char *>(MemoryContextAllocExtended(cxt, n + 1, MCXT_ALLOC_NO_OOM));
  *changed = true;
  if (out == nullptr) {
    out = static_cast<char *>(MemoryContextAllocExtended(cxt, core::kRedactedMarker.size() + 1, MCXT_ALLOC_NO_OOM));
    if (out != nullptr) strcpy(out, core::kRedactedMarker.data());
    return out;
  }
  core::redact(v, out, r);
  out[n] = '\0';
  return out;
}

// Replaces one field of the report (palloc'd in ErrorContext, freed by errfinish).
void redact_field(char **field) {
  bool changed;
  char *out = redacted_copy(*field, ErrorContext, &changed);
  if (!changed) return;
  if (*field != nullptr) pfree(*field);
  *field = out;
}

void redact_report(ErrorData *edata) noexcept {
  redact_field(&edata->message);
  redact_field(&edata->detail);
  redact_field(&edata->detail_log);
  redact_field(&edata->hint);
  redact_field(&edata->context);
  redact_field(&edata->internalquery);
  // The STATEMENT: line prints debug_query_string: it points to a redacted copy from now on
  // (this query's later reports find nothing left to redact).
  if (!edata->hide_stmt && debug_query_string != nullptr && debug_query_string != redacted_statement) {
    bool changed;
    char *copy = redacted_copy(debug_query_string, TopMemoryContext, &changed);
    if (changed) {
      if (copy == nullptr) {
        edata->hide_stmt = true;
      } else {
        if (redacted_statement != nullptr) pfree(redacted_statement);
        redacted_statement = copy;
        debug_query_string = copy;
      }
    }
  }
}

void emit_log(ErrorData *edata) {
  redact_report(edata);
  if (prev_emit_log_hook) prev_emit_log_hook(edata);
}

}  // namespace

namespace apikeys::glue {

bool logs_redacted() { return preloaded; }

void redaction_init() {
  preloaded = process_shared_preload_libraries_in_progress;
  prev_emit_log_hook = emit_log_hook;
  emit_log_hook = emit_log;
}

}  // namespace apikeys::glue
