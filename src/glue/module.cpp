// The module: _PG_init calls each glue file's init, and nothing else lives here.
#include "binding.hpp"
#include "boundary.hpp"
#include "events.hpp"
#include "keys.hpp"
#include "members.hpp"
#include "notify_queue.hpp"
#include "redaction.hpp"
#include "relcache.hpp"
#include "signing_keys.hpp"
#include "tables.hpp"
#include "tokens.hpp"
#include "usage.hpp"
#include "usage_worker.hpp"

extern "C" {
#include "utils/guc.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
}

void _PG_init(void) {
  apikeys::glue::redaction_init();  // first: every later report of this process is redacted
  apikeys::glue::boundary_init();
  apikeys::glue::relcache::init();
  apikeys::glue::keys_init();
  apikeys::glue::events_init();
  apikeys::glue::binding_init();
  apikeys::glue::members_init();
  apikeys::glue::usage_init();
  apikeys::glue::usage_worker_init();
  apikeys::glue::notify_queue_init();
  apikeys::glue::tables::tables_init();
  apikeys::glue::signing_keys_init();
  apikeys::glue::tokens_init();
  MarkGUCPrefixReserved("apikeys");
}
