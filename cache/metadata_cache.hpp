#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache_key.hpp"
#include "extraction.hpp"
#include "format.hpp"
#include "pressure_level.hpp"
#include "pressure_monitor.hpp"

namespace metafs::cache {

// The query index kept with the cache (LMDB's "index" database: term -> keys). The cache
// knows terms only as strings; what they are is the query library's business.
struct CacheIndexOptions {
  // The terms of one extraction; null: no index is kept (and a stored one is dropped, since
  // entries written now would be missing from it), unless `keep`.
  std::function<void(const extract::Extraction&, std::vector<std::string>*)> terms;
  // Names what `terms` computes: an index stored with another fingerprint is rebuilt.
  std::string fingerprint;
  // A reader (metafs-query): the index is used as it was left, neither rebuilt nor dropped.
  bool keep = false;
};

struct CacheOptions {
  std::filesystem::path dir;              // see default_cache_dir()
  std::uint64_t disk_limit = 1ULL << 30;  // --cache-size: the hard size of data.mdb
  bool enabled = true;                    // false (--no-cache): nothing is kept
  bool watch_pressure = true;             // run a PressureMonitor (else level stays normal)
  PressureMonitorOptions pressure;        // where the monitor reads
  CacheIndexOptions index;
  // A put waits for the disk writer when its queue is full instead of dropping the record
  // (metafs-index); the daemon drops, so a request never waits on the disk.
  bool wait_for_room = false;
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
// twice (a put shares the caller's extraction until the writer has encoded it, counted in
// the write queue's bound). Problems of the cache directory are logged and disable it (every get()
// a miss); nothing here throws except std::bad_alloc.
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
  // Whether get() would find a record of `key` (not decoded, not checked: a record that
  // turns out malformed is still a miss for get()); no access recorded, no hit counted.
  bool contains(const CacheKey& key);
  // Precondition: extraction != nullptr. Visible to get() at once (from the write queue); on
  // disk after the writer's next batch. Returns without encoding: the record (zstd) and its
  // index terms are made on the store's writer thread, which holds the extraction until
  // then. An extraction too large for the encoding is dropped there.
  void put(const CacheKey& key, std::shared_ptr<const extract::Extraction> extraction);

  std::optional<extract::Format> get_format(const CacheKey& key);
  void put_format(const CacheKey& key, extract::Format format);

  CacheStats stats() const;
  // Blocks until every put so far is on disk (or dropped).
  void flush();

  // The monitor of memory pressure, for the in-memory caches (views, inodes) to subscribe to.
  PressureMonitor& pressure_monitor();

  // The query index and the records behind it (see LmdbStore's scans: what is committed,
  // views valid during the call, false when the store cannot be read or there is none).
  // The fingerprint of the index as stored; "" when there is no complete index.
  std::string index_fingerprint() const;
  bool scan_index(std::string_view prefix,
                  const std::function<bool(std::string_view term, std::string_view key)>& visit,
                  std::string_view start = {});
  // Every extraction record: its LMDB key, source path and encoded payload (decode it with
  // extract::decode_extraction).
  using RecordVisitor =
      std::function<bool(std::string_view key, std::string_view path, std::string_view payload)>;
  // `at_end` runs after the last visit, while the views are still valid.
  bool scan_extractions(const RecordVisitor& visit, const std::function<void()>& at_end = {});
  // The source path of a stored extraction record whose path hashes to `path_hash` (the 16
  // bytes of XXH128_canonical_t of XXH3_128bits(path), as in lmdb_key), if any.
  std::optional<std::string> stored_path(std::string_view path_hash);
  // The records of `keys` (LMDB keys), absent or malformed ones skipped, no access recorded.
  bool read_records(const std::vector<std::string>& keys, const RecordVisitor& visit);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The memory budget at a pressure level: 100 %, 50 %, 25 %, 0 % of `limit`.
std::uint64_t memory_budget_at(PressureLevel level, std::uint64_t limit);

// Returns freed heap memory to the system (malloc_trim); for a cache that just shrank.
void give_memory_back();

}  // namespace metafs::cache
