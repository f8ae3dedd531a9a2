// The notifications of events: queued for the usage writer, or sent by the transaction
// (notify_queue.hpp). The ring is kSlots fixed slots; head (the next to fill) moves under
// the ring's lock, tail (the next to send) only in the usage writer. A slot is pending from
// the pre-commit of the transaction that filled it until its commit (then committed) or
// abort (then dead); the writer sends the committed slots from the tail on and stops at the
// first pending one, so notifications keep the order in which their slots were filled.
#include "notify_queue.hpp"

#include "shared_memory.hpp"
#include "usage.hpp"

extern "C" {
#include "access/parallel.h"
#include "access/xact.h"
#include "commands/async.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/memutils.h"
}

namespace {

constexpr const char *kChannel = "apikeys_events";
constexpr uint32 kSlots = 1024;
constexpr uint32 kPayloadMax = 2048;  // bytes of a slot's payload, its terminating NUL included

enum SlotState : uint32 { kFree = 0, kPending = 1, kCommitted = 2, kDead = 3 };

struct Slot {
  pg_atomic_uint32 state;
  char payload[kPayloadMax];
};

struct Ring {
  uint64 head;              // under the lock
  pg_atomic_uint64 tail;    // written by the sender only
  pg_atomic_uint32 sender;  // the usage writer's pgprocno + 1; 0: none runs
  Slot slots[kSlots];
};

Ring *ring = nullptr;
LWLock *ring_lock = nullptr;
bool is_sender = false;

Size ring_size() { return sizeof(Ring); }

void attach_ring(void *memory, LWLockPadded *locks, bool found) {
  ring = static_cast<Ring *>(memory);
  ring_lock = &locks[0].lock;
  if (found) return;
  ring->head = 0;
  pg_atomic_init_u64(&ring->tail, 0);
  pg_atomic_init_u32(&ring->sender, 0);
  for (uint32 i = 0; i < kSlots; i++) pg_atomic_init_u32(&ring->slots[i].state, kFree);
}

// This transaction's notifications, in TopTransactionContext: each with the nesting level
// of the subtransaction that recorded it.
struct Pending {
  int level;
  char *payload;
};
Pending *pending = nullptr;
int npending = 0, cap = 0;
// The slots this transaction filled at pre-commit: [first, first + nfilled).
uint64 first = 0;
int nfilled = 0;

void forget() {
  pending = nullptr;
  npending = cap = 0;
  nfilled = 0;
}

void notify_directly() {
  for (int i = 0; i < npending; i++) Async_Notify(kChannel, pending[i].payload);
  npending = 0;
}

// Pre-commit: the notifications into the ring (pending), or, when they cannot all go there,
// sent by this transaction as before.
void fill() {
  if (npending == 0) return;
  bool fits = pg_atomic_read_u32(&ring->sender) != 0;
  for (int i = 0; fits && i < npending; i++) fits = strlen(pending[i].payload) < kPayloadMax;
  if (fits) {
    LWLockAcquire(ring_lock, LW_EXCLUSIVE);
    uint64 tail = pg_atomic_read_u64(&ring->tail);
    fits = ring->head - tail + static_cast<uint64>(npending) <= kSlots;
    if (fits) {
      first = ring->head;
      for (int i = 0; i < npending; i++) {
        Slot *s = &ring->slots[(first + i) % kSlots];
        strlcpy(s->payload, pending[i].payload, kPayloadMax);
        pg_atomic_write_u32(&s->state, kPending);
      }
      ring->head += npending;
      nfilled = npending;
    }
    LWLockRelease(ring_lock);
  }
  if (fits)
    npending = 0;
  else
    notify_directly();
}

// After the commit (committed) or the abort (dead): the filled slots' fate. The sender is
// woken either way: committed slots of later transactions may wait behind these.
void settle(SlotState state) {
  if (nfilled == 0) return;
  pg_write_barrier();  // the payloads before the state that lets the sender read them
  for (int i = 0; i < nfilled; i++) pg_atomic_write_u32(&ring->slots[(first + i) % kSlots].state, state);
  uint32 sender = pg_atomic_read_u32(&ring->sender);
  if (sender != 0) SetLatch(&GetPGProcByNumber(sender - 1)->procLatch);
  nfilled = 0;
}

void xact_callback(XactEvent event, void *) {
  switch (event) {
    case XACT_EVENT_PRE_COMMIT:
      fill();
      break;
    case XACT_EVENT_PRE_PREPARE:
      notify_directly();  // so that PREPARE TRANSACTION refuses a NOTIFY, as it always did
      break;
    case XACT_EVENT_COMMIT:
      settle(kCommitted);
      forget();
      break;
    case XACT_EVENT_ABORT:
      settle(kDead);
      forget();
      break;
    case XACT_EVENT_PREPARE:
    case XACT_EVENT_PARALLEL_ABORT:
    case XACT_EVENT_PARALLEL_COMMIT:
    case XACT_EVENT_PARALLEL_PRE_COMMIT:
      forget();
      break;
  }
}

// A subtransaction's notifications go with it when it aborts, and become its parent's when
// it commits.
void subxact_callback(SubXactEvent event, SubTransactionId, SubTransactionId, void *) {
  int level = GetCurrentTransactionNestLevel();
  if (event == SUBXACT_EVENT_ABORT_SUB) {
    while (npending > 0 && pending[npending - 1].level >= level) npending--;
  } else if (event == SUBXACT_EVENT_COMMIT_SUB) {
    for (int i = 0; i < npending; i++)
      if (pending[i].level >= level) pending[i].level = level - 1;
  }
}

}  // namespace

namespace apikeys::glue {

void notify_queue_init() {
  RegisterXactCallback(xact_callback, nullptr);
  RegisterSubXactCallback(subxact_callback, nullptr);
  request_shared_memory("apikeys notifications", ring_size, 1, attach_ring);
}

void notify_event(const char *payload) {
  if (ring == nullptr || is_sender || IsParallelWorker() || !metered_database() ||
      pg_atomic_read_u32(&ring->sender) == 0) {
    Async_Notify(kChannel, payload);
    return;
  }
  MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
  if (npending == cap) {
    cap = cap == 0 ? 8 : cap * 2;
    pending = pending == nullptr ? static_cast<Pending *>(palloc(sizeof(Pending) * cap))
                                 : static_cast<Pending *>(repalloc(pending, sizeof(Pending) * cap));
  }
  pending[npending++] = {GetCurrentTransactionNestLevel(), pstrdup(payload)};
  MemoryContextSwitchTo(old);
}

void notify_set_sender(bool running) {
  if (ring == nullptr) return;
  is_sender = running;
#if PG_VERSION_NUM >= 170000
  uint32 procno = static_cast<uint32>(MyProcNumber);
#else
  uint32 procno = static_cast<uint32>(MyProc->pgprocno);
#endif
  pg_atomic_write_u32(&ring->sender, running ? procno + 1 : 0);
}

int notify_send_queued() {
  if (ring == nullptr) return 0;
  uint64 tail = pg_atomic_read_u64(&ring->tail);
  LWLockAcquire(ring_lock, LW_SHARED);
  uint64 head = ring->head;
  LWLockRelease(ring_lock);
  uint64 stop = tail;
  while (stop < head && pg_atomic_read_u32(&ring->slots[stop % kSlots].state) != kPending) stop++;
  if (stop == tail) return 0;
  pg_read_barrier();  // the states before the payloads they publish
  int sent = 0;
  StartTransactionCommand();
  for (uint64 i = tail; i < stop; i++) {
    Slot *s = &ring->slots[i % kSlots];
    if (pg_atomic_read_u32(&s->state) == kCommitted) {
      Async_Notify(kChannel, s->payload);
      sent++;
    }
  }
  CommitTransactionCommand();  // raises if PostgreSQL's queue is full: the slots stay queued
  for (uint64 i = tail; i < stop; i++) pg_atomic_write_u32(&ring->slots[i % kSlots].state, kFree);
  pg_write_barrier();
  pg_atomic_write_u64(&ring->tail, stop);
  return sent;
}

}  // namespace apikeys::glue
