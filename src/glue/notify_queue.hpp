// The notifications of events (NOTIFY apikeys_events). A transaction that sends a NOTIFY
// commits under a lock that every notifying transaction of the cluster takes
// (PostgreSQL's PreCommit_Notify holds it through the commit's WAL flush), so such commits
// lose group commit. With shared_preload_libraries, the events of the usage writer's
// database (apikeys.database_name) are therefore queued instead: kept per
// (sub)transaction in the backend, put into a ring in shared memory before the commit,
// released when it has committed and dropped when it aborts; the usage writer sends them
// in its own transactions, in the order the writing transactions committed. Elsewhere
// (without the preload, in other databases, while no writer runs, for a payload larger
// than a slot, when the ring is full, at PREPARE TRANSACTION) the transaction sends its
// NOTIFY itself, as before.
#pragma once

#include "boundary.hpp"

namespace apikeys::glue {

// _PG_init: the ring's shared memory (with the preload) and the transaction callbacks.
void notify_queue_init();

// Sends, or queues for the usage writer, the notification of one event (payload: JSON).
void notify_event(const char *payload);

// For the usage writer: it is the sender while it runs (true at its start, false at its
// exit); notify_send_queued sends what committed transactions queued, in one transaction of
// its own, and returns how many it sent (what it could not send stays queued).
void notify_set_sender(bool running);
int notify_send_queued();

}  // namespace apikeys::glue
