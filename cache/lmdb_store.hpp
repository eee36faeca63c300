#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store_index.hpp"

namespace metafs::cache {

struct LmdbStoreOptions {
  std::filesystem::path dir;                  // holds data.mdb and lock.mdb; created when missing
  std::uint64_t map_size = 1ULL << 30;        // the hard limit of data.mdb, rounded down to pages
  double high_watermark = 0.90;               // evict when the B-trees use more than this...
  double low_watermark = 0.70;                // ...down to this fraction of the map
  std::size_t batch_puts = 256;               // puts per write transaction at most
  std::size_t batch_bytes = 8u << 20;         // value bytes per write transaction at most
  std::size_t max_pending_bytes = 64u << 20;  // queued puts beyond this are dropped...
  // ...or, with this set, wait until the writer has made room (a batch tool such as
  // metafs-index, whose work would be lost; a mount never waits on its cache)
  bool wait_for_room = false;
  std::size_t evict_batch = 64;  // deletions per eviction transaction
  // Group commit: the writer waits this long after the first put of an empty queue before
  // committing, unless the batch fills, the queued puts hold commit_bytes, flush() or a put
  // waiting for room asks for it. Each commit costs an fdatasync and rewrites the B-tree paths
  // it touches: a cold walk that put one extraction at a time committed once per file (the
  // writer thread then took a seventh of both cores). Queued puts are answered by get()
  // meanwhile; zero commits at once. commit_bytes keeps what waits small next to
  // --memory-limit (a deferred put holds its extraction until it is committed).
  std::chrono::milliseconds commit_delay{50};
  std::size_t commit_bytes = 1u << 20;
  std::chrono::milliseconds touch_interval{1000};  // access times are written this often
  std::filesystem::path verifier;  // metafs-cache-verify; empty: default_store_verifier()

  // The query index. With terms_of set, every put, erase and eviction keeps the index in
  // step in its own write transaction, and an index whose stored fingerprint is not
  // `index_fingerprint` (missing: a new file, or terms_of changed) is rebuilt at open from
  // every entry. Without it, the index is dropped at open unless `keep_index` (a reader that
  // writes no entries: it uses the index as whoever maintains it left it).
  TermsOf terms_of;
  std::string index_fingerprint;
  bool keep_index = false;
};

struct LmdbStoreStats {
  bool enabled = false;
  std::uint64_t map_size = 0;    // the limit
  std::uint64_t used_bytes = 0;  // pages held by data (may be less than the file size)
  std::uint64_t file_bytes = 0;  // size of data.mdb
  std::uint64_t entries = 0;
  std::uint64_t writes = 0;     // puts committed
  std::uint64_t commits = 0;    // write transactions that committed puts or erases
  std::uint64_t evictions = 0;  // entries deleted to make room
  std::uint64_t dropped = 0;    // puts not stored: too large, queue full, no room
  std::uint64_t errors = 0;     // failed LMDB operations (reads are then misses)
  std::uint64_t map_full = 0;   // MDB_MAP_FULL seen (each followed by eviction and retry)
};

// A bounded persistent key/value store on one LMDB environment.
//
// Reads are short read-only transactions that copy the value out. Writes go through one
// writer thread: put() queues, the writer commits the queue in batches, and a get() of a
// queued key is answered from the queue. When the data passes the high watermark, or a
// commit fails with MDB_MAP_FULL, least-recently-used entries are deleted (in bounded
// transactions) and the commit retried; data.mdb never grows past map_size. Access times of
// reads are collected in memory and written in batches.
//
// Threads: callers (any number) take queue_mutex briefly to queue or to look up the queue;
// the writer thread takes it to pick a batch, then works without it (makes deferred values,
// writes, evicts). Readers hold env_mutex shared for one read transaction; only replacing
// the environment takes it exclusively. Lock order: env_mutex before queue_mutex; a
// deferred value's maker runs with neither held.
//
// Problems with the directory or the file never throw: a corrupt or foreign data.mdb is
// renamed to data.mdb.corrupt-<unix time> and a fresh one created (after an unclean stop the
// file is verified in a child process first: see open_store_file); an unusable directory,
// or one of another user, disables the store (get() misses, put() does nothing). The
// directory is kept 0700 and its files 0600. Each case logs one line on the
// "cache" logger. One store per directory per process (LMDB's rule); a second one for the
// same directory is disabled.
class LmdbStore {
 public:
  explicit LmdbStore(LmdbStoreOptions options);
  // Writes everything still queued, then closes the environment.
  ~LmdbStore();
  LmdbStore(const LmdbStore&) = delete;
  LmdbStore& operator=(const LmdbStore&) = delete;

  bool enabled() const;

  // Keys must be 1..511 bytes (LMDB's limit); a longer key is a miss / not stored.
  std::optional<std::string> get(std::string_view key);
  // Whether get() would find `key` (queued or stored), without copying or making its value
  // and without recording an access.
  bool contains(std::string_view key);
  // `terms`: the value's index terms (used when the store maintains the index).
  void put(std::string key, std::string value, std::vector<std::string> terms = {});
  // Makes a value and its terms (`terms` null: only the value is wanted); false: nothing to
  // store (the maker counts why). Runs on the writer thread, or on a get() thread, never
  // under the store's locks.
  using MakeValue = std::function<bool(std::string* value, std::vector<std::string>* terms)>;
  // Like put(), but the value is made when the writer commits it, so the caller does not
  // wait for it (e.g. compression); a get() of the key before that makes it in the caller.
  // `size_hint` stands for the value in the queue's bound (max_pending_bytes).
  void put_deferred(std::string key, std::size_t size_hint, MakeValue make);
  void erase(std::string key);
  // Records an access to `key` without reading it (e.g. served from a memory cache above).
  void touch(std::string_view key);

  // Blocks until everything queued before the call (puts, erases, access times) is
  // committed or dropped.
  void flush();

  LmdbStoreStats stats() const;

  // The fingerprint of a complete index, or "" when there is none. Reads see what is committed
  // (a put still in the write queue is not in the index yet: flush() first).
  std::string index_fingerprint() const;
  // Calls `visit(term, key)` for every index pair whose term starts with `prefix`, in term
  // order, inside one read transaction (the views die with the call); stops when it returns
  // false. False when the store could not be read. `start`: begin at the first term not
  // before it (a seek within the prefix).
  bool scan_index(std::string_view prefix,
                  const std::function<bool(std::string_view term, std::string_view key)>& visit,
                  std::string_view start = {});
  // Calls `visit(key, value)` for every entry whose key starts with `key_prefix`, as above,
  // then `at_end` while the views are still valid (to work on all of them at once).
  bool scan_entries(std::string_view key_prefix,
                    const std::function<bool(std::string_view key, std::string_view value)>& visit,
                    const std::function<void()>& at_end = {});
  // The values of `keys` (absent ones skipped) in one read transaction, without recording an
  // access; `visit(key, value)` as above.
  bool read_many(const std::vector<std::string>& keys,
                 const std::function<bool(std::string_view key, std::string_view value)>& visit);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace metafs::cache
