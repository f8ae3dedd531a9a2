// Redaction of the server log: an emit_log_hook that rewrites every part of a report (message,
// detail, hint, context, internal query, the statement line) so that no key, access token,
// hex-encoded secret or pepper value reaches a log line. Installed when the library is loaded;
// only shared_preload_libraries covers every line of every process.
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// True if the library was preloaded, so that every log line of every process is redacted.
bool logs_redacted();

// From _PG_init: installs the hook (chained to the one before).
void redaction_init();

}  // namespace apikeys::glue
