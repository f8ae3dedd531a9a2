// Events: who acts (apikeys.actor), the purge flag that lets apikeys.purge() delete events,
// and the NOTIFY payload of an event.
#pragma once

#include "boundary.hpp"

extern "C" {
#include "lib/stringinfo.h"
#include "utils/jsonb.h"
}

namespace apikeys::glue {

// The actor of the current transaction: apikeys.actor when set and not empty, else the
// session user (palloc'd).
text *actor();
// The setting apikeys.actor as it is ("" when unset).
const char *actor_setting();

// Whether this transaction is inside apikeys.purge().
bool event_purge_allowed();

// Records one event: a row of apikeys.events (id, time and actor from its column defaults)
// and its NOTIFY apikeys_events, sent at commit or just after it (notify_queue.hpp). tenant_id is a text Datum, or 0
// for an event of the installation (signing keys, purge runs); key_id and key_set_id are 0 for none; details is a jsonb
// Datum. Runs its INSERT with the caller's rights (the triggers and the management functions run as the extension's
// owner).
void record_event(Datum tenant_id, int64 key_id, int64 key_set_id, const char *action, Datum details);

// A jsonb object under construction, with the values jsonb_build_object would give;
// finish() returns the jsonb Datum.
class JsonObject {
 public:
  JsonObject();
  void add_text(const char *name, Datum value, bool isnull);
  void add_text_array(const char *name, Datum value, bool isnull);
  void add_timestamptz(const char *name, Datum value, bool isnull);
  // name: {"old": old_value, "new": new_value}, both jsonb Datums.
  void add_change(const char *name, Datum old_value, Datum new_value);
  Datum finish();

 private:
  void key(const char *name);
  void jsonb(Datum value);
  JsonbParseState *state_ = nullptr;
};

// A value as to_jsonb gives it (JSON null for NULL).
Datum to_jsonb_of(Datum value, bool isnull, Oid type);

// From _PG_init: defines apikeys.actor and registers the purge flag's callbacks.
void events_init();

}  // namespace apikeys::glue
