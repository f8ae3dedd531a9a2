// The row cache: open addressing with linear probing; emptied when the table's generation
// changes, doubled when half full (emptied instead at RowCache::kMaxSlots).
#include "row_cache.hpp"

extern "C" {
#include "common/hashfn.h"
#include "utils/memutils.h"
}

namespace apikeys::glue {

MemoryContext RowCache::memory() {
  if (cxt_ == nullptr) cxt_ = AllocSetContextCreate(TopMemoryContext, "apikeys row cache", ALLOCSET_SMALL_SIZES);
  return cxt_;
}

void RowCache::empty() {
  MemoryContextReset(memory());
  nslots_ = first_slots_;
  slots_ = static_cast<Slot *>(MemoryContextAllocZero(memory(), sizeof(Slot) * nslots_));
  live_ = 0;
}

// Twice the slots, the entries rehashed (their keys and values stay where they are, in
// memory(); the old slot array too, until the next empty()).
void RowCache::grow() {
  Slot *old = slots_;
  uint32 old_n = nslots_;
  nslots_ = old_n * 2;
  slots_ = static_cast<Slot *>(MemoryContextAllocZero(memory(), sizeof(Slot) * nslots_));
  for (uint32 i = 0; i < old_n; i++)
    if (old[i].key != nullptr) *find(std::string_view(old[i].key, old[i].len), old[i].hash) = old[i];
}

void RowCache::validate() {
  if (slots_ == nullptr || built_for_ != table_->generation) {
    empty();
    built_for_ = table_->generation;
  } else if (live_ >= nslots_ / 2) {
    if (nslots_ < kMaxSlots)
      grow();
    else
      empty();
  }
}

RowCache::Slot *RowCache::find(std::string_view key, uint32 hash) {
  for (uint32 i = 0;; i++) {
    Slot *s = &slots_[(hash + i) % nslots_];
    if (s->key == nullptr || (s->hash == hash && s->len == key.size() && memcmp(s->key, key.data(), key.size()) == 0))
      return s;
  }
}

void *RowCache::get(std::string_view key) {
  if (slots_ == nullptr) return nullptr;
  uint32 hash = hash_bytes(reinterpret_cast<const unsigned char *>(key.data()), static_cast<int>(key.size()));
  Slot *s = find(key, hash);
  return s->key == nullptr ? nullptr : s->value;
}

void RowCache::put(std::string_view key, void *value) {
  if (slots_ == nullptr || built_for_ != table_->generation || live_ >= nslots_ / 2) return;
  uint32 hash = hash_bytes(reinterpret_cast<const unsigned char *>(key.data()), static_cast<int>(key.size()));
  Slot *s = find(key, hash);
  if (s->key == nullptr) {
    s->key = static_cast<char *>(MemoryContextAlloc(memory(), key.size() + 1));
    memcpy(s->key, key.data(), key.size());
    s->hash = hash;
    s->len = static_cast<uint32>(key.size());
    live_++;
  }
  s->value = value;
}

}  // namespace apikeys::glue
