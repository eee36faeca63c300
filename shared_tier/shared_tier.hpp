#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "cache_key.hpp"
#include "extraction.hpp"
#include "shared_tier/path_permissions.hpp"
#include "shared_tier/pg_connection.hpp"

namespace metafs::shared_tier {

struct SharedTierOptions {
  std::string uri;   // --shared-cache: a libpq connection string or postgresql:// URI
  std::string root;  // --shared-root: the name of SOURCE on every node (UTF-8, not empty)
  // How long a lookup (a FUSE request's cache miss) may wait for the server: then it is a miss.
  std::chrono::milliseconds lookup_timeout{50};
  // Connecting (at start, and each reconnect by the writer thread).
  std::chrono::milliseconds connect_timeout{2000};
  // How long one batch of writes may take before the server counts as down.
  std::chrono::milliseconds write_timeout{30000};
  std::size_t max_queued_rows = 20000;  // beyond it a row is not shared (the local cache has it)
  std::size_t batch_rows = 200;         // rows per INSERT
  std::chrono::milliseconds batch_delay{100};  // how long a batch waits to fill
  unsigned lookup_connections = 4;             // connections lookups share
  std::string writer_name;                     // the node, in metafs.files.writer
};

// One extraction to share: its local cache key, the result, who may read the file.
struct SharedRow {
  cache::CacheKey key;
  std::shared_ptr<const extract::Extraction> extraction;
  PathPermissions permissions;
};

struct SharedTierStats {
  bool up = false;             // the server answers
  std::uint64_t hits = 0;      // lookups answered by the shared tier
  std::uint64_t misses = 0;    // lookups the shared tier did not have
  std::uint64_t timeouts = 0;  // lookups past --shared-timeout (then a miss)
  std::uint64_t skipped = 0;   // lookups not tried: server down, no connection free in time
  std::uint64_t errors = 0;    // statements the server refused, undecodable rows
  std::uint64_t written = 0;   // rows the server took
  std::uint64_t dropped = 0;   // rows not shared: queue full, too large, refused, at exit
  std::uint64_t queued = 0;    // rows waiting to be written now
  std::uint64_t state_changes = 0;
};

// The shared metadata tier: rows of metafs.files in PostgreSQL, consulted after the local
// cache misses and before extracting, written after an extraction. Nothing here waits on
// the server beyond a deadline, throws, or loses local data: when the server is down or
// slow, get() misses at once and put() queues (bounded), a writer thread reconnects and
// writes the queue back, and each change of state is logged once.
//
// Keys (see SharedRow::key): the root's name, the path relative to it, inode, size, mtime
// and ctime in ns, the extractors' schema version and the codec's; st_dev is not part of
// them, so nodes mounting one export under the same root name share rows.
//
// Threads: get() runs on the caller's thread with a connection from a small pool; one writer
// thread owns the writing connection, makes the schema and the root's partition, batches
// rows, opens the pool's connections and probes a server that went down. Lock order: none —
// pool_mutex_ (idle lookup connections) and queue_mutex_ (rows to write) are never held
// together, and no server call is made under either.
class SharedTier {
 public:
  // Connects once (up to connect_timeout) so lookups right after start find the server, then
  // starts the writer thread. A server that is down is not an error: the writer retries.
  explicit SharedTier(SharedTierOptions options);
  // Writes what is queued while the server answers, for up to 5 s, then stops (a batch being
  // written finishes or times out first); rows still queued are dropped (the local cache
  // keeps them).
  ~SharedTier();
  SharedTier(const SharedTier&) = delete;
  SharedTier& operator=(const SharedTier&) = delete;

  // The encoded extraction (the bytes the local cache stores) for `key`, or nullopt: a miss,
  // the server down or past the lookup deadline. Thread-safe.
  std::optional<std::string> get(const cache::CacheKey& key);
  // Queues a row for the writer; never waits. Thread-safe.
  void put(SharedRow row);
  // Waits until every row queued so far is written or dropped, at most `timeout`; true when
  // the queue is empty.
  bool flush(std::chrono::milliseconds timeout);

  SharedTierStats stats() const;
  const SharedTierOptions& options() const { return options_; }

 private:
  void run(std::stop_token stop);
  bool connect_writer();
  void fill_lookup_pool();
  std::vector<SharedRow> take_batch(std::stop_token stop);
  // Writes rows; false when the connection was lost (the rows are queued again in front).
  bool write_batch(std::vector<SharedRow>& rows);
  PgConnection take_lookup_connection(Clock::time_point deadline);
  void return_lookup_connection(PgConnection connection);
  void set_down(const std::string& why);
  void set_up();

  SharedTierOptions options_;

  std::atomic<bool> up_{false};
  std::atomic<unsigned> consecutive_timeouts_{0};
  std::atomic<bool> probe_requested_{false};  // a lookup lost its connection: is the server up?
  std::atomic<std::uint64_t> hits_{0}, misses_{0}, timeouts_{0}, skipped_{0}, errors_{0},
      written_{0}, dropped_{0}, state_changes_{0};

  mutable std::mutex pool_mutex_;
  std::condition_variable pool_changed_;
  std::vector<PgConnection> idle_;  // lookup connections not in use
  unsigned lookup_open_ = 0;        // idle or in use

  mutable std::mutex queue_mutex_;
  std::condition_variable_any queue_changed_;
  std::deque<SharedRow> queue_;
  std::size_t writing_ = 0;  // rows taken by the writer, not yet written or dropped
  std::condition_variable_any queue_drained_;

  PgConnection writer_;     // the writer thread's only
  std::string last_error_;  // why the writer's last connection attempt failed
  bool writer_ready_ = false;
  std::jthread thread_;  // last: stopped and joined before the members it uses go
};

}  // namespace metafs::shared_tier
