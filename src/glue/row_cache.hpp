// A per-backend cache of what C code reads from single rows of a table (tenant settings, key
// set settings), keyed by the row's key bytes, and emptied whenever the table is
// invalidated (relcache.hpp): a cache that may serve a value only as long as it is the last
// committed one.
#pragma once

#include "relcache.hpp"

namespace apikeys::glue {

class RowCache {
 public:
  // The table whose invalidations empty the cache. It starts with `slots` slots and doubles
  // them when half full, up to kMaxSlots (kMaxSlots / 2 entries: a backend keeps every row
  // it reads of a few thousand tenants or key sets, so verify stays one index probe); only
  // beyond that is it emptied when half full.
  static constexpr uint32 kMaxSlots = 16384;
  RowCache(relcache::Table *table, uint32 slots) : table_(table), nslots_(slots), first_slots_(slots) {}

  // Makes the cache current for the table's generation (empties it after an invalidation;
  // grows it, or at kMaxSlots empties it, when half full); call it before get() and before
  // allocating a value for put().
  void validate();
  // The value cached for key, or null.
  void *get(std::string_view key);
  // Caches value (allocated in memory()) for key, unless the table was invalidated since
  // validate() (then the value may be stale and is not kept) or the cache is full.
  void put(std::string_view key, void *value);
  // Where values are allocated; emptied with the cache.
  MemoryContext memory();

 private:
  struct Slot {
    uint32 hash;
    uint32 len;
    char *key;  // null: free
    void *value;
  };
  Slot *find(std::string_view key, uint32 hash);
  void empty();
  void grow();

  relcache::Table *table_;
  uint32 nslots_;
  uint32 first_slots_;
  Slot *slots_ = nullptr;
  uint32 live_ = 0;
  uint64 built_for_ = ~uint64{0};
  MemoryContext cxt_ = nullptr;
};

}  // namespace apikeys::glue
