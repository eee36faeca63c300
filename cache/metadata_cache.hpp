#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>

#include "cache_key.hpp"
#include "extraction.hpp"
#include "format.hpp"
#include "pressure_level.hpp"
#include "pressure_monitor.hpp"

namespace metafs::cache {

struct CacheOptions {
  std::filesystem::path dir;              // see default_cache_dir()
  std::uint64_t disk_limit = 1ULL << 30;  // --cache-size: the hard size of data.mdb
  bool enabled = true;                    // false (--no-cache): nothing is kept
  bool watch_pressure = true;             // run a PressureMonitor (else level stays normal)
  PressureMonitorOptions pressure;        // where the monitor reads
};

struct CacheStats {
  std::uint64_t hits = 0;  // get() answered (from disk or the write queue)
  std::uint64_t misses = 0;
  std::uint64_t evictions = 0;         // entries evicted from disk
  std::uint64_t disk_bytes_used = 0;   // B-tree pages holding data
  std::uint64_t disk_file_bytes = 0;   // size of data.mdb (<= disk_bytes_limit)
  std::uint64_t disk_bytes_limit = 0;  // 0 when there is no disk cache
  std::uint64_t entries = 0;           // records on disk (trees and formats)
  PressureLevel pressure = PressureLevel::kNormal;
  PressureTrigger pressure_trigger = PressureTrigger::kNone;  // the source that set it
  std::uint64_t writes = 0;                                   // records committed to disk
  std::uint64_t dropped = 0;  // records not stored (too large, queue full, no room)
  std::uint64_t errors = 0;   // disk errors and undecodable records (served as misses)
  bool disk_enabled = false;  // false: disabled by option or by a bad directory
};

// The cache the extraction service asks before extracting: a bounded LMDB store of encoded
// Extractions behind a write queue. Thread-safe. It keeps nothing decoded: the one memory
// tier is the extraction service's views, which it fills from here, so a tree is never held
// twice. Problems of the cache directory are logged and disable it (every get() a miss);
// nothing here throws except std::bad_alloc.
//
// Error extractions are cached like others (a poison file costs one attempt per version).
// It owns the PressureMonitor the memory tier subscribes to.
class MetadataCache {
 public:
  explicit MetadataCache(CacheOptions options);
  // Writes what is queued and closes the store.
  ~MetadataCache();
  MetadataCache(const MetadataCache&) = delete;
  MetadataCache& operator=(const MetadataCache&) = delete;

  // nullptr on a miss; each hit is decoded anew (the caller keeps it). A record that does
  // not decode counts as an error, is deleted, and is a miss.
  std::shared_ptr<const extract::Extraction> get(const CacheKey& key);
  // Precondition: extraction != nullptr. Visible to get() at once (from the write queue); on
  // disk after the writer's next batch. An extraction too large for the encoding is dropped.
  void put(const CacheKey& key, std::shared_ptr<const extract::Extraction> extraction);

  std::optional<extract::Format> get_format(const CacheKey& key);
  void put_format(const CacheKey& key, extract::Format format);

  CacheStats stats() const;
  // Blocks until every put so far is on disk (or dropped).
  void flush();

  // The monitor of memory pressure, for the in-memory caches (views, inodes) to subscribe to.
  PressureMonitor& pressure_monitor();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The memory budget at a pressure level: 100 %, 50 %, 25 %, 0 % of `limit`.
std::uint64_t memory_budget_at(PressureLevel level, std::uint64_t limit);

// Returns freed heap memory to the system (malloc_trim); for a cache that just shrank.
void give_memory_back();

}  // namespace metafs::cache
