// The shared memory of the glue files: one pair of shmem_request / shmem_startup hooks for
// every file that needs a region and its LWLocks (usage, notify_queue).
#pragma once

#include "boundary.hpp"

extern "C" {
#include "storage/lwlock.h"
}

namespace apikeys::glue {

// Shared memory of a glue file, from its init under shared_preload_libraries (elsewhere it
// does nothing): size() bytes and nlocks LWLocks, both named name, requested when the server
// starts; init(memory, locks, found) runs in every process that attaches, under
// AddinShmemInitLock (found: another process initialised it already). At most four.
using SharedInit = void (*)(void *memory, LWLockPadded *locks, bool found);
void request_shared_memory(const char *name, Size (*size)(), int nlocks, SharedInit init);

}  // namespace apikeys::glue
