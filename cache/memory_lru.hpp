#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

namespace metafs::cache {

struct MemoryLruStats {
  std::size_t bytes = 0;   // sum of the sizes given to put()
  std::size_t budget = 0;  // current budget (may be below the limit under memory pressure)
  std::size_t entries = 0;
  std::uint64_t evictions = 0;
};

// A thread-safe least-recently-used map bounded by a byte budget. Each entry is charged the
// size its caller gives (e.g. MetaTree::memory_bytes() plus the rest of an Extraction);
// inserting past the budget evicts from the least recently used end. An entry larger than
// the whole budget is not kept. Value should be cheap to copy (a shared_ptr, a small value):
// get() returns a copy so no reference outlives the lock.
template <typename Key, typename Value, typename Hash = std::hash<Key>>
class MemoryLru {
 public:
  explicit MemoryLru(std::size_t budget_bytes) : budget_(budget_bytes) {}
  MemoryLru(const MemoryLru&) = delete;
  MemoryLru& operator=(const MemoryLru&) = delete;

  std::optional<Value> get(const Key& key) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->value;
  }

  // Whether `key` is held, without making it the most recently used.
  bool contains(const Key& key) const {
    std::lock_guard lock(mutex_);
    return index_.contains(key);
  }

  // Inserts `key` only if the entries then take at most `limit` bytes, evicting nothing (an
  // entry made ahead of need must not push out one in use); false when it did not.
  bool put_within(const Key& key, Value value, std::size_t bytes, std::size_t limit) {
    std::lock_guard lock(mutex_);
    if (index_.contains(key) || bytes_ + bytes > std::min(limit, budget_)) return false;
    order_.push_front(Entry{key, std::move(value), bytes});
    index_.emplace(key, order_.begin());
    bytes_ += bytes;
    return true;
  }

  // Inserts or replaces; the entry becomes the most recently used.
  void put(const Key& key, Value value, std::size_t bytes) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it != index_.end()) {
      bytes_ -= it->second->bytes;
      order_.erase(it->second);
      index_.erase(it);
    }
    if (bytes > budget_) return;
    order_.push_front(Entry{key, std::move(value), bytes});
    index_.emplace(key, order_.begin());
    bytes_ += bytes;
    shrink_locked();
  }

  void erase(const Key& key) {
    std::lock_guard lock(mutex_);
    auto it = index_.find(key);
    if (it == index_.end()) return;
    bytes_ -= it->second->bytes;
    order_.erase(it->second);
    index_.erase(it);
  }

  // Changes the budget, evicting at once down to it (0 empties the cache).
  void set_budget(std::size_t budget_bytes) {
    std::lock_guard lock(mutex_);
    budget_ = budget_bytes;
    shrink_locked();
  }

  void clear() {
    std::lock_guard lock(mutex_);
    evictions_ += index_.size();
    index_.clear();
    order_.clear();
    bytes_ = 0;
  }

  MemoryLruStats stats() const {
    std::lock_guard lock(mutex_);
    return MemoryLruStats{bytes_, budget_, index_.size(), evictions_};
  }

 private:
  struct Entry {
    Key key;
    Value value;
    std::size_t bytes;
  };

  void shrink_locked() {
    while (bytes_ > budget_ && !order_.empty()) {
      Entry& last = order_.back();
      bytes_ -= last.bytes;
      index_.erase(last.key);
      order_.pop_back();
      ++evictions_;
    }
  }

  mutable std::mutex mutex_;
  std::list<Entry> order_;  // most recently used first
  std::unordered_map<Key, typename std::list<Entry>::iterator, Hash> index_;
  std::size_t budget_;
  std::size_t bytes_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace metafs::cache
