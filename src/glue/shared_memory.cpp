// The shared-memory requests of the glue files, served by one pair of hooks.
#include "shared_memory.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
}

namespace apikeys::glue {

namespace {
struct SharedRequest {
  const char *name;
  Size (*size)();
  int nlocks;
  SharedInit init;
};
SharedRequest shared_requests[4];
int nshared = 0;
shmem_request_hook_type prev_shmem_request_hook = nullptr;
shmem_startup_hook_type prev_shmem_startup_hook = nullptr;

void shmem_request() {
  if (prev_shmem_request_hook) prev_shmem_request_hook();
  for (int i = 0; i < nshared; i++) {
    RequestAddinShmemSpace(MAXALIGN(shared_requests[i].size()));
    if (shared_requests[i].nlocks > 0) RequestNamedLWLockTranche(shared_requests[i].name, shared_requests[i].nlocks);
  }
}

void shmem_startup() {
  if (prev_shmem_startup_hook) prev_shmem_startup_hook();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  for (int i = 0; i < nshared; i++) {
    const SharedRequest &r = shared_requests[i];
    bool found;
    void *memory = ShmemInitStruct(r.name, r.size(), &found);
    r.init(memory, r.nlocks > 0 ? GetNamedLWLockTranche(r.name) : nullptr, found);
  }
  LWLockRelease(AddinShmemInitLock);
}
}  // namespace

void request_shared_memory(const char *name, Size (*size)(), int nlocks, SharedInit init) {
  if (!process_shared_preload_libraries_in_progress) return;
  if (nshared == static_cast<int>(lengthof(shared_requests))) elog(ERROR, "apikeys: too many shared memory requests");
  if (nshared == 0) {
    prev_shmem_request_hook = shmem_request_hook;
    shmem_request_hook = shmem_request;
    prev_shmem_startup_hook = shmem_startup_hook;
    shmem_startup_hook = shmem_startup;
  }
  shared_requests[nshared++] = {name, size, nlocks, init};
}

}  // namespace apikeys::glue
