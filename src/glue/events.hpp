// Events: who acts (apikeys.actor), the purge flag that lets apikeys.purge() delete events,
// and the NOTIFY payload of an event.
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// From _PG_init: defines apikeys.actor and registers the purge flag's callbacks.
void events_init();

}  // namespace apikeys::glue
