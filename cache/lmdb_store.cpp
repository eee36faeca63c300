#include "lmdb_store.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "cache_log.hpp"
#include "evictor.hpp"
#include "lmdb_env.hpp"
#include "lmdb_layout.hpp"
#include "lmdb_txn.hpp"
#include "store_file.hpp"
#include "store_verifier.hpp"

namespace metafs::cache {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxKeyBytes = 511;
constexpr std::size_t kMaxTouches = 64 * 1024;  // access times kept in memory before writing
// Access times per write transaction at most. LMDB holds a transaction's dirty pages in
// memory it allocates, and keeps them for reuse until the environment closes: a touch dirties
// a page of the access table and one of the LRU table, scattered by the keys' digests, so one
// transaction of a walk's touches held 16 MiB beyond --memory-limit at 10^5 files and would
// hold up to 256 MiB (32 768 touches) on a larger cache. Written in key order, a batch dirties
// each page of the access table once across its transactions.
constexpr std::size_t kTouchesPerWrite = 256;
constexpr int kPutAttempts = 5;
constexpr std::uint64_t kMinMapSize = 64 * 1024;

std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

// LMDB allows one environment per file per process.
std::mutex open_dirs_mutex;
std::set<fs::path> open_dirs;

fs::path canonical_or_same(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::weakly_canonical(p, ec);
  return ec ? p : c;
}

using Terms = std::vector<std::string>;

using MakeValue = LmdbStore::MakeValue;

struct Pending {
  std::shared_ptr<const std::string> value;  // null and no make: erase
  std::shared_ptr<const Terms> terms;
  std::shared_ptr<const MakeValue> make;  // a deferred put: value and terms made later
  std::size_t bytes = 0;                  // counted in pending_bytes
  std::uint64_t seq = 0;
};

struct QueuedOp {
  std::string key;
  std::shared_ptr<const std::string> value;
  std::shared_ptr<const Terms> terms;
  std::shared_ptr<const MakeValue> make;
  std::uint64_t seq = 0;
};

// Runs a deferred put's maker; false when it made nothing (or threw: the writer must live).
bool run_maker(const MakeValue& make, std::string* value, Terms* terms) {
  try {
    return make(value, terms);
  } catch (const std::exception& e) {
    cache_log().warn("cache value not made: {}", e.what());
    return false;
  }
}

constexpr std::size_t kRebuildBatch = 256;  // entries indexed per write transaction

}  // namespace

struct LmdbStore::Impl {
  explicit Impl(LmdbStoreOptions o) : options(std::move(o)) {}

  LmdbStoreOptions options;
  fs::path dir_key;
  bool registered = false;

  // env_mutex: shared by readers for the length of one read transaction; exclusive only to
  // replace the environment. Lock order: env_mutex before queue_mutex.
  mutable std::shared_mutex env_mutex;
  std::unique_ptr<InUseMarker> marker;  // released after env is closed: an orderly close
  std::unique_ptr<LmdbEnv> env;
  StoreDbs dbs;
  unsigned page_size = 4096;
  std::uint64_t map_size = 0;
  std::atomic<bool> enabled{false};
  std::atomic<bool> corrupt{false};

  mutable std::mutex queue_mutex;
  std::condition_variable wake_writer;
  std::condition_variable idle;
  std::unordered_map<std::string, Pending> pending;
  std::deque<std::string> queue;  // keys in put order; stale entries skipped by seq
  std::unordered_map<std::string, std::uint64_t> touches;
  std::size_t pending_bytes = 0;
  std::uint64_t next_seq = 0;
  bool flush_requested = false;
  unsigned waiters = 0;  // flush() calls and puts waiting for room: no group-commit delay
  std::chrono::steady_clock::time_point first_queued;  // when the queue last became non-empty
  bool busy = false;
  bool stop = false;
  std::thread writer;

  std::atomic<std::uint64_t> used_bytes{0}, entries{0}, writes{0}, commits{0}, evictions{0},
      dropped{0}, errors{0}, map_full{0};

  // Whether a put of `size` bytes fits the queue's bound (max_pending_bytes); with
  // wait_for_room, waits for the writer to make room first (it notifies `idle` after every
  // batch). Called with queue_mutex held through `lock`.
  bool room_for(std::unique_lock<std::mutex>& lock, std::size_t size) {
    auto fits = [&] { return pending_bytes + size <= options.max_pending_bytes; };
    if (fits()) return true;
    if (!options.wait_for_room || size > options.max_pending_bytes) return false;
    ++waiters;
    wake_writer.notify_one();
    idle.wait(lock, [&] { return fits() || stop; });
    --waiters;
    return fits();
  }

  // Queues a put or erase of `key` (queue_mutex held).
  void enqueue(std::string key) {
    if (queue.empty()) first_queued = std::chrono::steady_clock::now();
    queue.push_back(std::move(key));
  }

  // Whether the writer should commit what is queued now rather than wait for more
  // (queue_mutex held): see LmdbStoreOptions::commit_delay.
  bool commit_now() const {
    return stop || flush_requested || waiters > 0 || corrupt ||
           queue.size() >= options.batch_puts ||
           pending_bytes >= std::min(options.batch_bytes, options.commit_bytes) ||
           std::chrono::steady_clock::now() - first_queued >= options.commit_delay;
  }

  void open();
  void sync_index();
  bool rebuild_index();
  std::string stored_fingerprint();
  void run_writer();
  void make_values(std::vector<QueuedOp>& ops, std::vector<QueuedOp>& unmade);
  using Touches = std::span<const std::pair<std::string, std::uint64_t>>;  // key, access time
  bool write_ops(std::vector<QueuedOp>& ops, Touches touches);
  int try_write(const std::vector<QueuedOp>& ops, Touches touches);
  std::uint64_t headroom() const;
  std::uint64_t low_target() const;
  void evict(const EvictionRequest& request);
  void refresh_usage();
  void reset_file(std::string_view reason, bool keep);
  void note_error(int code, std::string_view what);
  std::optional<std::string> read(std::string_view key);
  bool stored(std::string_view key);
};

void LmdbStore::Impl::open() {
  map_size = options.map_size / static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) *
             static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  if (map_size < kMinMapSize) {
    cache_log().error(
        "cache size {} is below the minimum of {} bytes; running without a "
        "persistent cache",
        options.map_size, kMinMapSize);
    return;
  }
  dir_key = canonical_or_same(options.dir);
  {
    std::lock_guard lock(open_dirs_mutex);
    if (!open_dirs.insert(dir_key).second) {
      cache_log().error(
          "cache in {} is already open in this process; this instance runs without "
          "a persistent cache",
          dir_key.string());
      return;
    }
    registered = true;
  }
  if (options.verifier.empty()) options.verifier = default_store_verifier();
  OpenedStore opened = open_store_file(options.dir, map_size, options.verifier);
  if (!opened.env) return;
  marker = std::move(opened.marker);
  env = std::move(opened.env);
  dbs = opened.dbs;
  page_size = env->page_size();
  sync_index();
  refresh_usage();
  enabled = true;
  cache_log().debug("cache {} open: {} entries, {} of {} bytes used", options.dir.string(),
                    entries.load(), used_bytes.load(), map_size);
}

void LmdbStore::Impl::note_error(int code, std::string_view what) {
  ++errors;
  if (is_corruption(code)) {
    if (!corrupt.exchange(true)) {
      cache_log().error("cache file damaged ({}: {}); it will be replaced", what,
                        mdb_strerror(code));
    }
    wake_writer.notify_one();
  } else {
    cache_log().warn("cache {} failed: {}", what, mdb_strerror(code));
  }
}

void LmdbStore::Impl::refresh_usage() {
  if (!env) return;
  try {
    LmdbTxn txn = LmdbTxn::read(env->get());
    StoreUsage usage = store_usage(txn, dbs, page_size);
    used_bytes = usage.used_bytes;
    entries = usage.entries;
  } catch (const LmdbError& e) {
    note_error(e.code(), "usage");
  }
}

std::optional<std::string> LmdbStore::Impl::read(std::string_view key) {
  std::shared_lock lock(env_mutex);
  if (!env || corrupt) return std::nullopt;
  try {
    LmdbTxn txn = LmdbTxn::read(env->get());
    auto value = txn.find(dbs.entries, key);
    if (!value) return std::nullopt;
    return std::string(*value);
  } catch (const LmdbError& e) {
    note_error(e.code(), "read");
    return std::nullopt;
  }
}

bool LmdbStore::Impl::stored(std::string_view key) {
  std::shared_lock lock(env_mutex);
  if (!env || corrupt) return false;
  try {
    LmdbTxn txn = LmdbTxn::read(env->get());
    return txn.find(dbs.entries, key).has_value();
  } catch (const LmdbError& e) {
    note_error(e.code(), "read");
    return false;
  }
}

void LmdbStore::Impl::reset_file(std::string_view reason, bool keep) {
  std::unique_lock lock(env_mutex);
  env.reset();
  set_aside_store_file(options.dir, reason, keep);
  marker.reset();
  OpenedStore opened = open_store_file(options.dir, map_size, options.verifier);
  corrupt = false;
  if (!opened.env) {
    enabled = false;
    return;
  }
  marker = std::move(opened.marker);
  env = std::move(opened.env);
  dbs = opened.dbs;
  lock.unlock();
  sync_index();
  refresh_usage();
}

std::string LmdbStore::Impl::stored_fingerprint() {
  try {
    LmdbTxn txn = LmdbTxn::read(env->get());
    auto value = txn.find(dbs.main, kIndexFingerprintKey);
    return value ? std::string(*value) : std::string();
  } catch (const LmdbError& e) {
    note_error(e.code(), "index fingerprint");
    return {};
  }
}

// Brings the index in line with options.terms_of at open: kept when its fingerprint matches,
// else dropped and (with terms_of) rebuilt from every entry.
void LmdbStore::Impl::sync_index() {
  if (!env) return;
  std::string stored = stored_fingerprint();
  if (options.terms_of ? stored == options.index_fingerprint : options.keep_index) return;
  try {
    LmdbTxn txn = LmdbTxn::write(env->get());
    int rc = mdb_drop(txn.get(), dbs.index, 0);
    if (rc == MDB_SUCCESS) rc = txn.del(dbs.main, kIndexFingerprintKey);
    if (rc == MDB_NOTFOUND) rc = MDB_SUCCESS;
    if (rc == MDB_SUCCESS) rc = txn.commit();
    if (rc != MDB_SUCCESS) {
      note_error(rc, "index drop");
      return;
    }
  } catch (const LmdbError& e) {
    note_error(e.code(), "index drop");
    return;
  }
  if (!options.terms_of) return;
  auto start = std::chrono::steady_clock::now();
  if (rebuild_index()) {
    cache_log().info(
        "query index of {} rebuilt in {:.1f} s", options.dir.string(),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
}

// Indexes every entry, a batch per write transaction, then records the fingerprint. False
// (the index stays without a fingerprint, so queries do not trust it) when it cannot finish.
bool LmdbStore::Impl::rebuild_index() {
  std::string after;  // the last key indexed
  bool first = true;
  for (;;) {
    std::vector<std::pair<std::string, Terms>> batch;
    try {
      LmdbTxn txn = LmdbTxn::read(env->get());
      MDB_cursor* cursor = nullptr;
      int rc = mdb_cursor_open(txn.get(), dbs.entries, &cursor);
      if (rc != MDB_SUCCESS) throw LmdbError("mdb_cursor_open", rc);
      MDB_val k = to_val(after);
      MDB_val v;
      rc = mdb_cursor_get(cursor, &k, &v, first ? MDB_FIRST : MDB_SET_RANGE);
      if (rc == MDB_SUCCESS && !first && to_view(k) == after) {
        rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
      }
      for (; rc == MDB_SUCCESS && batch.size() < kRebuildBatch;
           rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        Terms terms;
        options.terms_of(to_view(k), to_view(v), &terms);
        batch.emplace_back(std::string(to_view(k)), std::move(terms));
      }
      mdb_cursor_close(cursor);
      if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) throw LmdbError("mdb_cursor_get", rc);
    } catch (const LmdbError& e) {
      note_error(e.code(), "index rebuild");
      return false;
    }
    first = false;
    int rc = MDB_SUCCESS;
    try {
      LmdbTxn txn = LmdbTxn::write(env->get());
      for (const auto& [key, terms] : batch) {
        rc = add_terms(txn, dbs, key, terms);
        if (rc != MDB_SUCCESS) break;
      }
      if (rc == MDB_SUCCESS && batch.empty()) {
        rc = txn.put(dbs.main, kIndexFingerprintKey, options.index_fingerprint);
      }
      if (rc == MDB_SUCCESS) rc = txn.commit();
    } catch (const LmdbError& e) {
      rc = e.code();
    }
    if (rc != MDB_SUCCESS) {
      if (rc == MDB_MAP_FULL) {
        cache_log().warn("query index of {} not rebuilt: the cache is full (--cache-size)",
                         options.dir.string());
      } else {
        note_error(rc, "index rebuild");
      }
      return false;
    }
    if (batch.empty()) return true;
    after = batch.back().first;
  }
}

void LmdbStore::Impl::evict(const EvictionRequest& request) {
  if (!env) return;
  EvictionRequest attempt = request;
  for (;;) {
    try {
      std::size_t n = evict_lru(env->get(), dbs, page_size, attempt, options.terms_of);
      evictions += n;
      if (n > 0) {
        cache_log().debug("evicted {} entries (target {} bytes)", n, attempt.target_bytes);
      }
      break;
    } catch (const LmdbError& e) {
      if (e.code() != MDB_MAP_FULL) {
        note_error(e.code(), "eviction");
        break;
      }
      ++map_full;
      if (attempt.batch > 1) {
        // Fewer deletions dirty fewer pages; each commit also frees pages for the next.
        attempt.batch = 1;
        continue;
      }
      // Not even one deletion finds a free page: start over rather than stop caching.
      reset_file("full and no entry could be evicted", false);
      break;
    }
  }
  refresh_usage();
}

// Puts, erases and access times in one write transaction: every commit leaves its freed
// pages unusable for the next one, so fewer commits mean less dead space in a small map.
int LmdbStore::Impl::try_write(const std::vector<QueuedOp>& ops, Touches access_times) {
  if (!env) return EINVAL;
  try {
    LmdbTxn txn = LmdbTxn::write(env->get());
    std::uint64_t now = now_ns();
    for (const QueuedOp& op : ops) {
      static const Terms kNoTerms;
      int rc = op.value ? write_entry(txn, dbs, op.key, *op.value, now,
                                      op.terms ? *op.terms : kNoTerms, options.terms_of)
                        : erase_entry(txn, dbs, op.key, options.terms_of);
      if (rc != MDB_SUCCESS) return rc;
    }
    for (const auto& [key, time] : access_times) {
      int rc = touch_entry(txn, dbs, key, time);
      if (rc != MDB_SUCCESS) return rc;
    }
    return txn.commit();
  } catch (const LmdbError& e) {
    return e.code();
  }
}

// Room kept free beyond the data: LMDB reuses a freed page only two commits later, so the
// next commits need pages of their own (a batch, its B-tree paths, the free list).
std::uint64_t LmdbStore::Impl::headroom() const {
  return 2 * std::min<std::uint64_t>(options.batch_bytes, map_size / 32) + 16ULL * page_size;
}

std::uint64_t LmdbStore::Impl::low_target() const {
  auto low = static_cast<std::uint64_t>(static_cast<double>(map_size) * options.low_watermark);
  return low - std::min(low, headroom());
}

// True when the transaction committed with its access times (false: none of them written).
bool LmdbStore::Impl::write_ops(std::vector<QueuedOp>& ops, Touches access_times) {
  std::uint64_t bytes = 0;
  for (const QueuedOp& op : ops) bytes += op.key.size() + (op.value ? op.value->size() : 0);
  for (int attempt = 0; attempt < kPutAttempts; ++attempt) {
    int rc = try_write(ops, access_times);
    if (rc == MDB_SUCCESS) {
      for (const QueuedOp& op : ops) writes += op.value ? 1 : 0;
      if (!ops.empty()) ++commits;
      return !access_times.empty();
    }
    if (rc != MDB_MAP_FULL) {
      note_error(rc, "write");
      dropped += ops.size();
      return false;
    }
    // Access times are a hint: they are the first thing given up, and never a reason to evict.
    access_times = {};
    if (ops.empty()) return false;
    // Room for twice the batch below the low watermark, and more entries on each retry
    // (free pages may be too fragmented for large values).
    ++map_full;
    refresh_usage();
    EvictionRequest request;
    request.target_bytes = std::min<std::uint64_t>(used_bytes, low_target());
    request.target_bytes -= std::min(request.target_bytes, 2 * bytes);
    request.min_entries = std::size_t{1} << (2 * attempt);
    request.batch = options.evict_batch;
    evict(request);
    if (!enabled) return false;
  }
  if (ops.size() > 1) {
    for (const QueuedOp& op : ops) {
      std::vector<QueuedOp> one{op};
      write_ops(one, {});
      if (!enabled) return false;
    }
    return false;
  }
  dropped += ops.size();
  cache_log().debug("cache value of {} bytes dropped: no room after eviction", bytes);
  return false;
}

// Makes the values of the batch's deferred puts (outside queue_mutex); those that make
// nothing or too much move to `unmade`.
void LmdbStore::Impl::make_values(std::vector<QueuedOp>& ops, std::vector<QueuedOp>& unmade) {
  std::vector<QueuedOp> made;
  made.reserve(ops.size());
  for (QueuedOp& op : ops) {
    if (op.make) {
      std::string value;
      Terms terms;
      if (!run_maker(*op.make, &value, &terms)) {
        unmade.push_back(std::move(op));
        continue;
      }
      if (value.size() > map_size / 8) {
        ++dropped;
        unmade.push_back(std::move(op));
        continue;
      }
      op.value = std::make_shared<const std::string>(std::move(value));
      op.terms = terms.empty() ? nullptr : std::make_shared<const Terms>(std::move(terms));
      op.make = nullptr;
    }
    made.push_back(std::move(op));
  }
  ops = std::move(made);
}

void LmdbStore::Impl::run_writer() {
  auto last_touch_write = std::chrono::steady_clock::now();
  std::unique_lock lock(queue_mutex);
  for (;;) {
    wake_writer.wait_for(lock, options.touch_interval, [&] {
      return stop || !queue.empty() || flush_requested || corrupt ||
             touches.size() >= kMaxTouches / 2;
    });
    // Group commit: let more puts join the first one's transaction for up to commit_delay.
    if (!queue.empty()) {
      wake_writer.wait_until(lock, first_queued + options.commit_delay,
                             [&] { return commit_now(); });
    }
    bool flushing = flush_requested;
    flush_requested = false;
    std::vector<QueuedOp> ops;
    std::size_t batch_bytes = 0;
    while (!queue.empty() && ops.size() < options.batch_puts && batch_bytes < options.batch_bytes) {
      std::string key = std::move(queue.front());
      queue.pop_front();
      auto it = pending.find(key);
      if (it == pending.end()) continue;
      // A later put of the same key is queued behind; write only the newest once.
      bool newest =
          std::none_of(ops.begin(), ops.end(), [&](const QueuedOp& op) { return op.key == key; });
      if (!newest) continue;
      batch_bytes += it->second.bytes;
      ops.push_back(QueuedOp{std::move(key), it->second.value, it->second.terms, it->second.make,
                             it->second.seq});
    }
    std::unordered_map<std::string, std::uint64_t> touch_batch;
    auto now = std::chrono::steady_clock::now();
    if (!touches.empty() && (stop || flushing || touches.size() >= kMaxTouches / 2 ||
                             now - last_touch_write >= options.touch_interval)) {
      touch_batch.swap(touches);
      last_touch_write = now;
    }
    if (ops.empty() && touch_batch.empty() && !corrupt) {
      if (stop && queue.empty()) break;
      idle.notify_all();
      continue;
    }
    busy = true;
    lock.unlock();

    if (corrupt) reset_file("damaged", true);
    std::vector<QueuedOp> unmade;
    if (enabled) make_values(ops, unmade);
    if (enabled) {
      std::vector<std::pair<std::string, std::uint64_t>> access_times(
          std::make_move_iterator(touch_batch.begin()), std::make_move_iterator(touch_batch.end()));
      touch_batch.clear();
      std::sort(access_times.begin(), access_times.end());
      const Touches all(access_times);
      // The rest of the access times only while the last chunk was written (an error, a
      // damaged file or a full map ends them: they are hints).
      bool written = write_ops(ops, all.first(std::min(all.size(), kTouchesPerWrite)));
      for (std::size_t i = kTouchesPerWrite; written && enabled && !corrupt && i < all.size();
           i += kTouchesPerWrite) {
        std::vector<QueuedOp> no_ops;
        written = write_ops(no_ops, all.subspan(i, std::min(all.size() - i, kTouchesPerWrite)));
      }
      refresh_usage();
      auto high =
          static_cast<std::uint64_t>(static_cast<double>(map_size) * options.high_watermark);
      if (used_bytes + headroom() > high) {
        EvictionRequest request;
        request.target_bytes = low_target();
        request.batch = options.evict_batch;
        evict(request);
      }
    } else {
      dropped += ops.size();
    }

    lock.lock();
    for (const auto* done : {&ops, &unmade}) {
      for (const QueuedOp& op : *done) {
        auto it = pending.find(op.key);
        if (it != pending.end() && it->second.seq == op.seq) {
          pending_bytes -= it->second.bytes;
          pending.erase(it);
        }
      }
    }
    busy = false;
    idle.notify_all();
  }
  busy = false;
  idle.notify_all();
}

LmdbStore::LmdbStore(LmdbStoreOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->open();
  if (impl_->enabled) impl_->writer = std::thread([impl = impl_.get()] { impl->run_writer(); });
}

LmdbStore::~LmdbStore() {
  {
    std::lock_guard lock(impl_->queue_mutex);
    impl_->stop = true;
  }
  impl_->wake_writer.notify_one();
  if (impl_->writer.joinable()) impl_->writer.join();
  impl_->env.reset();
  impl_->marker.reset();
  if (impl_->registered) {
    std::lock_guard lock(open_dirs_mutex);
    open_dirs.erase(impl_->dir_key);
  }
}

bool LmdbStore::enabled() const {
  return impl_->enabled;
}

std::optional<std::string> LmdbStore::get(std::string_view key) {
  if (!impl_->enabled || key.empty() || key.size() > kMaxKeyBytes) return std::nullopt;
  std::shared_ptr<const MakeValue> make;
  {
    std::lock_guard lock(impl_->queue_mutex);
    auto it = impl_->pending.find(std::string(key));
    if (it != impl_->pending.end()) {
      if (!it->second.make) {
        if (!it->second.value) return std::nullopt;
        return *it->second.value;
      }
      make = it->second.make;
    }
  }
  if (make) {
    std::string value;
    if (!run_maker(*make, &value, nullptr)) return std::nullopt;
    return value;
  }
  std::optional<std::string> value = impl_->read(key);
  if (value) touch(key);
  return value;
}

bool LmdbStore::contains(std::string_view key) {
  if (!impl_->enabled || key.empty() || key.size() > kMaxKeyBytes) return false;
  {
    std::lock_guard lock(impl_->queue_mutex);
    auto it = impl_->pending.find(std::string(key));
    if (it != impl_->pending.end()) return it->second.make || it->second.value;
  }
  return impl_->stored(key);
}

void LmdbStore::put(std::string key, std::string value, std::vector<std::string> terms) {
  if (!impl_->enabled || key.empty() || key.size() > kMaxKeyBytes) return;
  // A value that cannot fit comfortably would only evict everything else.
  if (value.size() > impl_->map_size / 8) {
    ++impl_->dropped;
    return;
  }
  std::size_t size = value.size();
  {
    std::unique_lock lock(impl_->queue_mutex);
    if (!impl_->room_for(lock, size)) {
      ++impl_->dropped;
      return;
    }
    auto& slot = impl_->pending[key];
    impl_->pending_bytes -= slot.bytes;
    impl_->pending_bytes += size;
    slot.value = std::make_shared<const std::string>(std::move(value));
    slot.terms = terms.empty() ? nullptr : std::make_shared<const Terms>(std::move(terms));
    slot.make = nullptr;
    slot.bytes = size;
    slot.seq = ++impl_->next_seq;
    impl_->enqueue(std::move(key));
  }
  impl_->wake_writer.notify_one();
}

void LmdbStore::put_deferred(std::string key, std::size_t size_hint, MakeValue make) {
  if (!impl_->enabled || key.empty() || key.size() > kMaxKeyBytes) return;
  auto maker = std::make_shared<const MakeValue>(std::move(make));
  {
    std::unique_lock lock(impl_->queue_mutex);
    if (!impl_->room_for(lock, size_hint)) {
      ++impl_->dropped;
      return;
    }
    auto& slot = impl_->pending[key];
    impl_->pending_bytes -= slot.bytes;
    impl_->pending_bytes += size_hint;
    slot.value = nullptr;
    slot.terms = nullptr;
    slot.make = std::move(maker);
    slot.bytes = size_hint;
    slot.seq = ++impl_->next_seq;
    impl_->enqueue(std::move(key));
  }
  impl_->wake_writer.notify_one();
}

void LmdbStore::erase(std::string key) {
  if (!impl_->enabled || key.empty() || key.size() > kMaxKeyBytes) return;
  {
    std::lock_guard lock(impl_->queue_mutex);
    auto& slot = impl_->pending[key];
    impl_->pending_bytes -= slot.bytes;
    slot.value = nullptr;
    slot.terms = nullptr;
    slot.make = nullptr;
    slot.bytes = 0;
    slot.seq = ++impl_->next_seq;
    impl_->enqueue(std::move(key));
  }
  impl_->wake_writer.notify_one();
}

void LmdbStore::touch(std::string_view key) {
  if (!impl_->enabled || key.empty() || key.size() > kMaxKeyBytes) return;
  bool wake = false;
  {
    std::lock_guard lock(impl_->queue_mutex);
    if (impl_->touches.size() >= kMaxTouches) return;
    impl_->touches[std::string(key)] = now_ns();
    wake = impl_->touches.size() >= kMaxTouches / 2;
  }
  if (wake) impl_->wake_writer.notify_one();
}

void LmdbStore::flush() {
  if (!impl_->writer.joinable()) return;
  std::unique_lock lock(impl_->queue_mutex);
  impl_->flush_requested = true;
  ++impl_->waiters;
  impl_->wake_writer.notify_one();
  impl_->idle.wait(lock, [&] {
    return impl_->stop || (impl_->queue.empty() && impl_->touches.empty() && !impl_->busy);
  });
  --impl_->waiters;
}

LmdbStoreStats LmdbStore::stats() const {
  LmdbStoreStats s;
  s.enabled = impl_->enabled;
  s.map_size = impl_->map_size;
  s.used_bytes = impl_->used_bytes;
  s.entries = impl_->entries;
  s.writes = impl_->writes;
  s.commits = impl_->commits;
  s.evictions = impl_->evictions;
  s.dropped = impl_->dropped;
  s.errors = impl_->errors;
  s.map_full = impl_->map_full;
  std::error_code ec;
  auto size = fs::file_size(impl_->options.dir / "data.mdb", ec);
  s.file_bytes = ec ? 0 : size;
  return s;
}

std::string LmdbStore::index_fingerprint() const {
  std::shared_lock lock(impl_->env_mutex);
  if (!impl_->env || impl_->corrupt) return {};
  return impl_->stored_fingerprint();
}

namespace {

// Walks `dbi` from the first key starting with `prefix` while keys do, every duplicate.
void walk_prefix(const LmdbTxn& txn, MDB_dbi dbi, std::string_view prefix,
                 const std::function<bool(std::string_view, std::string_view)>& visit,
                 std::string_view start = {}) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), dbi, &cursor);
  if (rc != MDB_SUCCESS) throw LmdbError("mdb_cursor_open", rc);
  std::string_view from = std::max(prefix, start);
  MDB_val k = to_val(from);
  MDB_val v;
  rc = from.empty() ? mdb_cursor_get(cursor, &k, &v, MDB_FIRST)
                    : mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  for (; rc == MDB_SUCCESS; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    std::string_view key = to_view(k);
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!visit(key, to_view(v))) break;
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) throw LmdbError("mdb_cursor_get", rc);
}

}  // namespace

bool LmdbStore::scan_index(
    std::string_view prefix,
    const std::function<bool(std::string_view term, std::string_view key)>& visit,
    std::string_view start) {
  std::shared_lock lock(impl_->env_mutex);
  if (!impl_->env || impl_->corrupt) return false;
  try {
    LmdbTxn txn = LmdbTxn::read(impl_->env->get());
    walk_prefix(txn, impl_->dbs.index, prefix, visit, start);
    return true;
  } catch (const LmdbError& e) {
    impl_->note_error(e.code(), "index scan");
    return false;
  }
}

bool LmdbStore::scan_entries(
    std::string_view key_prefix,
    const std::function<bool(std::string_view key, std::string_view value)>& visit,
    const std::function<void()>& at_end) {
  std::shared_lock lock(impl_->env_mutex);
  if (!impl_->env || impl_->corrupt) return false;
  try {
    LmdbTxn txn = LmdbTxn::read(impl_->env->get());
    walk_prefix(txn, impl_->dbs.entries, key_prefix, visit);
    if (at_end) at_end();
    return true;
  } catch (const LmdbError& e) {
    impl_->note_error(e.code(), "entry scan");
    return false;
  }
}

bool LmdbStore::read_many(
    const std::vector<std::string>& keys,
    const std::function<bool(std::string_view key, std::string_view value)>& visit) {
  std::shared_lock lock(impl_->env_mutex);
  if (!impl_->env || impl_->corrupt) return false;
  try {
    static const std::uintptr_t page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    auto hint = [](std::string_view value) {
      if (value.size() < page / 2) return;  // small values sit in the page just read
      auto at = reinterpret_cast<std::uintptr_t>(value.data()) & ~(page - 1);
      ::madvise(reinterpret_cast<void*>(at), page, MADV_WILLNEED);  // a hint: errors ignored
    };
    // Many keys (a query's results): a lookup waits for each B-tree page it misses, so a few
    // threads first walk contiguous runs of the keys (sorted by the caller: neighbours share
    // pages) in read transactions of their own, and the lookups below then find the pages in
    // memory. Only pages are touched; what is visited comes from the one transaction below.
    constexpr std::size_t kPrefetchFrom = 512;
    if (keys.size() >= kPrefetchFrom) {
      constexpr std::size_t kThreads = 4;
      auto prefetch = [&](std::size_t begin, std::size_t end) {
        try {
          LmdbTxn own = LmdbTxn::read(impl_->env->get());
          for (std::size_t i = begin; i < end; ++i) {
            const std::string& key = keys[i];
            if (key.empty() || key.size() > kMaxKeyBytes) continue;
            if (auto value = own.find(impl_->dbs.entries, key)) hint(*value);
          }
        } catch (const LmdbError&) {
          // only a hint: the lookups below report errors
        }
      };
      std::vector<std::thread> pool;
      std::size_t chunk = (keys.size() + kThreads - 1) / kThreads;
      for (std::size_t begin = chunk; begin < keys.size(); begin += chunk) {
        pool.emplace_back(prefetch, begin, std::min(begin + chunk, keys.size()));
      }
      prefetch(0, std::min(chunk, keys.size()));
      for (std::thread& t : pool) t.join();
    }
    LmdbTxn txn = LmdbTxn::read(impl_->env->get());
    // Found first, read after: a lookup touches the B-tree's pages but a large value's
    // (overflow) pages only when visit reads them, so asking the kernel for every value's
    // first page up front lets a cold cache's reads run together instead of one per visit.
    std::vector<std::pair<const std::string*, std::string_view>> found;
    found.reserve(keys.size());
    for (const std::string& key : keys) {
      if (key.empty() || key.size() > kMaxKeyBytes) continue;
      auto value = txn.find(impl_->dbs.entries, key);
      if (!value) continue;
      found.emplace_back(&key, *value);
      if (keys.size() < kPrefetchFrom) hint(*value);
    }
    for (const auto& [key, value] : found) {
      if (!visit(*key, value)) break;
    }
    return true;
  } catch (const LmdbError& e) {
    impl_->note_error(e.code(), "read");
    return false;
  }
}

}  // namespace metafs::cache
