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
  std::filesystem::path dir;                  // see default_cache_dir()
  std::uint64_t disk_limit = 1ULL << 30;      // --cache-size: the hard size of data.mdb
  std::uint64_t memory_limit = 128ULL << 20;  // --memory-limit: decoded trees in memory
  bool enabled = true;                        // false (--no-cache): memory LRU only
  bool watch_pressure = true;                 // run a PressureMonitor (else level stays normal)
  PressureMonitorOptions pressure;            // where the monitor reads
};

struct CacheStats {
  std::uint64_t hits = 0;         // get() answered (memory or disk)
  std::uint64_t memory_hits = 0;  // of those, from the memory LRU
  std::uint64_t misses = 0;
  std::uint64_t evictions = 0;         // entries evicted from disk
  std::uint64_t memory_evictions = 0;  // entries evicted from the memory LRU
  std::uint64_t disk_bytes_used = 0;   // B-tree pages holding data
  std::uint64_t disk_file_bytes = 0;   // size of data.mdb (<= disk_bytes_limit)
  std::uint64_t disk_bytes_limit = 0;  // 0 when there is no disk cache
  std::uint64_t entries = 0;           // records on disk (trees and formats)
  std::uint64_t memory_bytes_used = 0;
  std::uint64_t memory_bytes_limit = 0;   // the configured limit
  std::uint64_t memory_bytes_budget = 0;  // the limit scaled down by memory pressure
  std::uint64_t memory_entries = 0;
  PressureLevel pressure = PressureLevel::kNormal;
  PressureTrigger pressure_trigger = PressureTrigger::kNone;  // the source that set it
  std::uint64_t writes = 0;                                   // records committed to disk
  std::uint64_t dropped = 0;  // records not stored (too large, queue full, no room)
  std::uint64_t errors = 0;   // disk errors and undecodable records (served as misses)
  bool disk_enabled = false;  // false: disabled by option or by a bad directory
};

// The cache the fs asks before extracting: a memory LRU of decoded Extractions in front of
// a bounded LMDB store of encoded ones. Thread-safe. Problems of the cache directory are
// logged and degrade to memory-only caching; nothing here throws except std::bad_alloc.
//
// Error extractions are cached like others (a poison file costs one attempt per version).
// Memory pressure shrinks the memory LRU (elevated: 50 %, high: 25 %, critical: nothing)
// and returns freed memory to the system (malloc_trim).
class MetadataCache {
 public:
  explicit MetadataCache(CacheOptions options);
  // Writes what is queued and closes the store.
  ~MetadataCache();
  MetadataCache(const MetadataCache&) = delete;
  MetadataCache& operator=(const MetadataCache&) = delete;

  // nullptr on a miss. A record that does not decode counts as an error, is deleted, and is
  // a miss.
  std::shared_ptr<const extract::Extraction> get(const CacheKey& key);
  // Precondition: extraction != nullptr. Visible to get() at once; on disk after the writer's
  // next batch. An extraction too large for the encoding is kept in memory only.
  void put(const CacheKey& key, std::shared_ptr<const extract::Extraction> extraction);

  std::optional<extract::Format> get_format(const CacheKey& key);
  void put_format(const CacheKey& key, extract::Format format);

  CacheStats stats() const;
  // Blocks until every put so far is on disk (or dropped).
  void flush();

  // The monitor driving the memory LRU, for the fs to subscribe its own caches to.
  PressureMonitor& pressure_monitor();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The memory budget at a pressure level: 100 %, 50 %, 25 %, 0 % of `limit`.
std::uint64_t memory_budget_at(PressureLevel level, std::uint64_t limit);

// Bytes an Extraction is charged in a memory cache.
std::size_t extraction_memory_bytes(const extract::Extraction& extraction);

}  // namespace metafs::cache
