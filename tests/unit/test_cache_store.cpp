#include <gtest/gtest.h>
#include <lmdb.h>
#include <malloc.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "lmdb_store.hpp"
#include "temp_dir.hpp"

namespace metafs::cache {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

std::string key_of(int i) {
  return "key-" + std::to_string(i);
}

// A value whose bytes are a function of (i, size), so any read can be checked.
std::string value_of(int i, std::size_t size) {
  std::string v(size, '\0');
  std::mt19937 rng(static_cast<unsigned>(i));
  for (char& c : v) c = static_cast<char>('a' + rng() % 26);
  return std::to_string(i) + ":" + v;
}

std::uint64_t size_of(const fs::path& p) {
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  return ec ? 0 : size;
}

LmdbStoreOptions small_options(const fs::path& dir, std::uint64_t map_size) {
  LmdbStoreOptions o;
  o.dir = dir;
  o.map_size = map_size;
  o.touch_interval = std::chrono::milliseconds(50);
  return o;
}

// A cold walk puts one extraction at a time, a millisecond apart: each used to be its own
// write transaction (an fdatasync and the B-tree paths rewritten per file).
TEST(CacheStore, PutsArrivingOneAtATimeShareACommit) {
  TempDir dir;
  LmdbStoreOptions o = small_options(dir.path(), 8 << 20);
  o.commit_delay = std::chrono::milliseconds(200);
  LmdbStore store(o);
  ASSERT_TRUE(store.enabled());
  constexpr int kPuts = 40;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kPuts; ++i) {
    store.put(key_of(i), value_of(i, 100));
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  for (int i = 0; i < kPuts; ++i) EXPECT_EQ(store.get(key_of(i)), value_of(i, 100));  // queued
  store.flush();
  EXPECT_EQ(store.stats().writes, static_cast<std::uint64_t>(kPuts));
  // One commit per started 200 ms of putting (at least 40 ms here), and one for what flush()
  // found queued: far fewer than the 40 puts.
  auto windows = static_cast<std::uint64_t>(elapsed / std::chrono::milliseconds(200)) + 1;
  EXPECT_LE(store.stats().commits, windows + 1) << "puts took " << elapsed.count() << " ns";
  for (int i = 0; i < kPuts; ++i) EXPECT_EQ(store.get(key_of(i)), value_of(i, 100));  // file
}

TEST(CacheStore, FlushDoesNotWaitForTheCommitDelay) {
  TempDir dir;
  LmdbStoreOptions o = small_options(dir.path(), 8 << 20);
  o.commit_delay = std::chrono::hours(1);
  auto store = std::make_unique<LmdbStore>(o);
  store->put("a", "1");
  auto start = std::chrono::steady_clock::now();
  store->flush();  // would hang the test for an hour if it waited
  EXPECT_EQ(store->stats().writes, 1u);
  store->put("b", "2");
  store.reset();  // closing commits what is queued, at once
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::minutes(1));
  LmdbStore reopened(o);
  EXPECT_EQ(reopened.get("a"), "1");
  EXPECT_EQ(reopened.get("b"), "2");
}

// The puts committed once `want` are, or when `patience` is up (a store that waits for its
// commit delay of an hour would never get there).
std::uint64_t writes_within(const LmdbStore& store, std::uint64_t want,
                            std::chrono::seconds patience) {
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (store.stats().writes < want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return store.stats().writes;
}

TEST(CacheStore, AFullBatchIsCommittedWithoutWaitingForTheDelay) {
  TempDir dir;
  LmdbStoreOptions o = small_options(dir.path(), 8 << 20);
  o.commit_delay = std::chrono::hours(1);
  o.batch_puts = 16;
  LmdbStore store(o);
  for (int i = 0; i < 16; ++i) store.put(key_of(i), value_of(i, 10));
  EXPECT_EQ(writes_within(store, 16, std::chrono::seconds(30)), 16u);
  EXPECT_EQ(store.stats().commits, 1u);
}

// What waits for a group commit stays small: queued puts holding commit_bytes are committed
// at once, however long the delay.
TEST(CacheStore, PutsHoldingCommitBytesAreCommittedWithoutWaitingForTheDelay) {
  TempDir dir;
  LmdbStoreOptions o = small_options(dir.path(), 8 << 20);
  o.commit_delay = std::chrono::hours(1);
  o.commit_bytes = 64 * 1024;
  LmdbStore store(o);
  for (int i = 0; i < 4; ++i) store.put(key_of(i), value_of(i, 20 * 1024));  // 80 KiB queued
  EXPECT_EQ(writes_within(store, 4, std::chrono::seconds(30)), 4u);
  EXPECT_LE(store.stats().commits, 2u);
}

TEST(CacheStore, GetSeesAPutAtOnceAndAfterFlush) {
  TempDir dir;
  LmdbStore store(small_options(dir.path(), 4 << 20));
  ASSERT_TRUE(store.enabled());
  EXPECT_FALSE(store.get("absent"));
  EXPECT_FALSE(store.contains("absent"));
  store.put("k", "v1");
  EXPECT_EQ(store.get("k"), "v1");  // from the queue or the file
  EXPECT_TRUE(store.contains("k"));
  store.put("k", "v2");
  EXPECT_EQ(store.get("k"), "v2");
  store.flush();
  EXPECT_EQ(store.get("k"), "v2");
  EXPECT_TRUE(store.contains("k"));  // from the file
  store.erase("k");
  EXPECT_FALSE(store.get("k"));
  EXPECT_FALSE(store.contains("k"));  // an erase queued
  store.flush();
  EXPECT_FALSE(store.get("k"));
  EXPECT_FALSE(store.contains("k"));
  // Both puts, or only the newest when they were queued together.
  EXPECT_GE(store.stats().writes, 1u);
  EXPECT_LE(store.stats().writes, 2u);
  // Keys past LMDB's limit are refused, not an error.
  store.put(std::string(600, 'x'), "v");
  EXPECT_FALSE(store.get(std::string(600, 'x')));
}

// A deferred put is made on the writer thread (or by a get() before that), once per get or
// commit; a maker that makes nothing stores nothing, and the queue's bound counts the hint.
TEST(CacheStore, DeferredPutsAreMadeByTheWriter) {
  TempDir dir;
  auto options = small_options(dir.path(), 4 << 20);
  options.max_pending_bytes = 1000;
  LmdbStore store(options);
  ASSERT_TRUE(store.enabled());
  std::atomic<int> made{0};
  std::thread::id caller = std::this_thread::get_id();
  std::atomic<bool> made_elsewhere{false};
  store.put_deferred("k", 10, [&](std::string* value, std::vector<std::string>*) {
    ++made;
    if (std::this_thread::get_id() != caller) made_elsewhere = true;
    *value = "made";
    return true;
  });
  EXPECT_TRUE(store.contains("k"));
  EXPECT_EQ(made, 0);                 // contains() makes nothing
  EXPECT_EQ(store.get("k"), "made");  // from the queue (made here) or the file
  store.flush();
  EXPECT_TRUE(made_elsewhere);  // the writer made what it committed
  EXPECT_EQ(store.get("k"), "made");
  int after_flush = made;
  EXPECT_EQ(store.get("k"), "made");
  EXPECT_EQ(made, after_flush);  // read from the file, not made again

  store.put_deferred("none", 10, [](std::string*, std::vector<std::string>*) { return false; });
  store.flush();
  EXPECT_FALSE(store.get("none"));

  auto dropped = store.stats().dropped;
  store.put_deferred("big", 5000, [](std::string* value, std::vector<std::string>*) {
    *value = "x";
    return true;
  });
  EXPECT_EQ(store.stats().dropped, dropped + 1);  // over max_pending_bytes
  store.flush();
  EXPECT_FALSE(store.get("big"));
}

// A batch writer's puts wait for the writer when the queue is full; none is dropped.
TEST(CacheStore, WaitForRoomDropsNothing) {
  TempDir dir;
  auto options = small_options(dir.path(), 16 << 20);
  options.max_pending_bytes = 4096;
  options.wait_for_room = true;
  LmdbStore store(options);
  ASSERT_TRUE(store.enabled());
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&store, t] {
      for (int i = 0; i < 200; ++i) {
        store.put_deferred("k" + std::to_string(t) + "-" + std::to_string(i), 1000,
                           [](std::string* value, std::vector<std::string>*) {
                             *value = std::string(1000, 'v');
                             return true;
                           });
      }
    });
  }
  for (auto& w : writers) w.join();
  store.flush();
  EXPECT_EQ(store.stats().dropped, 0u);
  EXPECT_EQ(store.stats().entries, 600u);
  EXPECT_TRUE(store.get("k2-199"));
  // Without it the same bound drops.
  TempDir other;
  auto dropping = small_options(other.path(), 16 << 20);
  dropping.max_pending_bytes = 4096;
  LmdbStore lossy(dropping);
  for (int i = 0; i < 200; ++i) lossy.put("k" + std::to_string(i), std::string(1000, 'v'));
  lossy.flush();
  EXPECT_GT(lossy.stats().dropped, 0u);
}

// Access times are written a bounded number per transaction: LMDB keeps a transaction's
// dirty pages in memory it allocates and keeps for reuse until the environment closes, and a
// touch dirties a page or two scattered by the key's hash, so one transaction of every touch
// of a large cache held its pages for good (16 MiB in a 10^5-file walk, more with more files).
TEST(CacheStore, AccessTimesDoNotHoldAMemoryPagePerTouch) {
  TempDir dir;
  auto options = small_options(dir.path(), 256 << 20);
  options.touch_interval = std::chrono::hours(1);  // written on flush() or when 32 768 wait
  LmdbStore store(options);
  ASSERT_TRUE(store.enabled());
  // Keys as the cache's: digests, so neighbours in the B-tree are touched far apart in time.
  auto hashed_key = [](int i) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(i));
    char key[65];
    std::snprintf(key, sizeof key, "%016llx%016llx%016llx%016llx",
                  static_cast<unsigned long long>(rng()), static_cast<unsigned long long>(rng()),
                  static_cast<unsigned long long>(rng()), static_cast<unsigned long long>(rng()));
    return std::string(key);
  };
  constexpr int kEntries = 32000;
  for (int i = 0; i < kEntries; ++i) store.put(hashed_key(i), "v");
  store.flush();
  ASSERT_EQ(store.stats().entries, static_cast<std::uint64_t>(kEntries));
  // One touch of every entry: about 2 500 pages (10 MiB) of the access and LRU tables.
  for (int i = 0; i < 16; ++i) store.get(hashed_key(i));
  store.flush();  // the allocator's own pages for a small transaction
  auto heap = [] {
    struct mallinfo2 m = mallinfo2();
    return m.uordblks + m.hblkhd;
  };
  const std::size_t before = heap();
  for (int i = 0; i < kEntries; ++i) ASSERT_TRUE(store.get(hashed_key(i))) << i;
  store.flush();
  const std::size_t after = heap();
  EXPECT_LT(after, before + (2u << 20)) << "heap grew by " << (after - before) << " bytes";
}

TEST(CacheStore, ReopenKeepsEntries) {
  TempDir dir;
  {
    LmdbStore store(small_options(dir.path(), 4 << 20));
    for (int i = 0; i < 200; ++i) store.put(key_of(i), value_of(i, 300));
  }  // the destructor writes the queue
  LmdbStore store(small_options(dir.path(), 4 << 20));
  ASSERT_TRUE(store.enabled());
  EXPECT_EQ(store.stats().entries, 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(store.get(key_of(i)), value_of(i, 300)) << i;
}

TEST(CacheStore, TinyMapEvictsAndNeverGrowsPastTheLimit) {
  TempDir dir;
  constexpr std::uint64_t kLimit = 256 * 1024;
  LmdbStore store(small_options(dir.path(), kLimit));
  ASSERT_TRUE(store.enabled());
  std::mt19937 rng(5);
  constexpr int kCount = 600;
  std::vector<std::size_t> sizes;
  for (int i = 0; i < kCount; ++i) {
    // Mostly small values, some spanning overflow pages.
    sizes.push_back(i % 10 == 0 ? 6000 + rng() % 12000 : 200 + rng() % 1500);
    store.put(key_of(i), value_of(i, sizes.back()));
    // Small batches: one batch larger than the whole map can only be dropped.
    if (i % 5 == 0) store.flush();
    ASSERT_LE(size_of(dir.path() / "data.mdb"), kLimit);
  }
  store.flush();
  LmdbStoreStats stats = store.stats();
  EXPECT_LE(stats.file_bytes, kLimit);
  EXPECT_GT(stats.evictions, 0u);
  EXPECT_GT(stats.entries, 10u);
  EXPECT_LT(stats.entries, static_cast<std::uint64_t>(kCount));
  EXPECT_EQ(stats.errors, 0u);
  int present = 0;
  for (int i = 0; i < kCount; ++i) {
    auto v = store.get(key_of(i));
    if (!v) continue;
    ++present;
    EXPECT_EQ(*v, value_of(i, sizes[static_cast<std::size_t>(i)])) << i;
  }
  EXPECT_EQ(static_cast<std::uint64_t>(present), stats.entries);
  // The newest entries survive; eviction takes the oldest.
  EXPECT_TRUE(store.get(key_of(kCount - 1)));
  EXPECT_FALSE(store.get(key_of(1)));
}

TEST(CacheStore, MapFullIsSurvivedWithoutWatermarkEviction) {
  TempDir dir;
  constexpr std::uint64_t kLimit = 256 * 1024;
  LmdbStoreOptions o = small_options(dir.path(), kLimit);
  o.high_watermark = 1.5;  // never reached: only MDB_MAP_FULL makes room
  o.low_watermark = 0.5;
  LmdbStore store(o);
  for (int i = 0; i < 400; ++i) {
    store.put(key_of(i), value_of(i, 2000));
    if (i % 20 == 0) store.flush();
  }
  store.flush();
  LmdbStoreStats stats = store.stats();
  EXPECT_GT(stats.map_full, 0u);
  EXPECT_GT(stats.evictions, 0u);
  EXPECT_LE(stats.file_bytes, kLimit);
  EXPECT_EQ(store.get(key_of(399)), value_of(399, 2000));
  for (int i = 0; i < 400; ++i) {
    if (auto v = store.get(key_of(i))) {
      EXPECT_EQ(*v, value_of(i, 2000));
    }
  }
}

TEST(CacheStore, RecentlyReadEntriesOutliveUnreadOnes) {
  TempDir dir;
  LmdbStore store(small_options(dir.path(), 1 << 20));
  for (int i = 0; i < 1500; ++i) {
    store.put(key_of(i), value_of(i, 1000));
    // Entries 0..4 are read all the time: LRU keeps them, FIFO would not.
    if (i % 10 == 9) {
      for (int hot = 0; hot < 5; ++hot) {
        ASSERT_EQ(store.get(key_of(hot)), value_of(hot, 1000)) << "after put " << i;
      }
      store.flush();
    }
  }
  store.flush();
  ASSERT_GT(store.stats().evictions, 0u);
  EXPECT_FALSE(store.get(key_of(10)));  // never read: evicted
}

TEST(CacheStore, GarbageFileIsMovedAsideAndAFreshOneUsed) {
  TempDir dir;
  {
    std::ofstream out(dir.path() / "data.mdb", std::ios::binary);
    std::mt19937 rng(1);
    for (int i = 0; i < 64 * 1024; ++i) out.put(static_cast<char>(rng()));
  }
  LmdbStore store(small_options(dir.path(), 4 << 20));
  ASSERT_TRUE(store.enabled());
  store.put("k", "v");
  store.flush();
  EXPECT_EQ(store.get("k"), "v");
  int aside = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    if (entry.path().filename().string().starts_with("data.mdb.corrupt-")) {
      ++aside;
      EXPECT_EQ(entry.file_size(), 64u * 1024);
    }
  }
  EXPECT_EQ(aside, 1);
}

TEST(CacheStore, ForeignLmdbFileIsMovedAside) {
  TempDir dir;
  {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    ASSERT_EQ(mdb_env_open(env, dir.path().c_str(), 0, 0644), 0);
    MDB_txn* txn = nullptr;
    MDB_dbi dbi;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    ASSERT_EQ(mdb_dbi_open(txn, nullptr, 0, &dbi), 0);
    std::string k = "someone", v = "else";
    MDB_val key{k.size(), k.data()}, val{v.size(), v.data()};
    ASSERT_EQ(mdb_put(txn, dbi, &key, &val, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  LmdbStore store(small_options(dir.path(), 4 << 20));
  ASSERT_TRUE(store.enabled());
  EXPECT_EQ(store.stats().entries, 0u);
  store.put("k", "v");
  store.flush();
  EXPECT_EQ(store.get("k"), "v");
  bool aside = false;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    aside |= entry.path().filename().string().starts_with("data.mdb.corrupt-");
  }
  EXPECT_TRUE(aside);
}

TEST(CacheStore, UnusableDirectoryDisablesTheStore) {
  TempDir dir;
  std::ofstream(dir.path() / "a-file") << "x";
  for (const fs::path& bad : {dir.path() / "a-file" / "cache", fs::path("/proc/metafs-cache")}) {
    LmdbStore store(small_options(bad, 4 << 20));
    EXPECT_FALSE(store.enabled()) << bad;
    store.put("k", "v");
    store.flush();
    EXPECT_FALSE(store.get("k"));
    EXPECT_FALSE(store.stats().enabled);
  }
  // Below the minimum size: disabled too.
  LmdbStore tiny(small_options(dir.path() / "tiny", 1000));
  EXPECT_FALSE(tiny.enabled());
}

TEST(CacheStore, ASecondStoreOnTheSameDirectoryIsDisabled) {
  TempDir dir;
  LmdbStore first(small_options(dir.path(), 4 << 20));
  LmdbStore second(small_options(dir.path(), 4 << 20));
  EXPECT_TRUE(first.enabled());
  EXPECT_FALSE(second.enabled());
}

TEST(CacheStore, ALargerFileThanTheBudgetIsReplaced) {
  TempDir dir;
  {
    LmdbStore store(small_options(dir.path(), 8 << 20));
    for (int i = 0; i < 1500; ++i) store.put(key_of(i), value_of(i, 2000));
  }
  ASSERT_GT(size_of(dir.path() / "data.mdb"), 1u << 20);
  LmdbStore store(small_options(dir.path(), 1 << 20));
  ASSERT_TRUE(store.enabled());
  EXPECT_LE(size_of(dir.path() / "data.mdb"), 1u << 20);
  store.put("k", "v");
  store.flush();
  EXPECT_EQ(store.get("k"), "v");
}

// A writer killed with SIGKILL in the middle of its writes leaves a file that opens, and
// every value that can be read is intact.
TEST(CacheStore, KillDuringWritesThenReopen) {
  TempDir dir;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    LmdbStore store(small_options(dir.path(), 2 << 20));
    for (int i = 0;; ++i) {
      store.put(key_of(i % 3000), value_of(i % 3000, 100 + static_cast<std::size_t>(i % 3000)));
      if (i % 7 == 0) store.flush();
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));

  LmdbStore store(small_options(dir.path(), 2 << 20));
  ASSERT_TRUE(store.enabled());
  int present = 0;
  for (int i = 0; i < 3000; ++i) {
    auto v = store.get(key_of(i));
    if (!v) continue;
    ++present;
    EXPECT_EQ(*v, value_of(i, 100 + static_cast<std::size_t>(i))) << i;
  }
  EXPECT_GT(present, 0);
  EXPECT_EQ(static_cast<std::uint64_t>(present), store.stats().entries);
  store.put("after", "restart");
  store.flush();
  EXPECT_EQ(store.get("after"), "restart");
}

TEST(CacheStore, ConcurrentReadersAndPutsAgree) {
  TempDir dir;
  LmdbStore store(small_options(dir.path(), 8 << 20));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t * 500; i < (t + 1) * 500; ++i) {
        store.put(key_of(i), value_of(i, 100));
        auto v = store.get(key_of(i));
        EXPECT_EQ(v, value_of(i, 100));
        auto other = store.get(key_of((i * 7) % 2000));
        if (other) {
          EXPECT_EQ(*other, value_of((i * 7) % 2000, 100));
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  store.flush();
  EXPECT_EQ(store.stats().entries, 2000u);
}

}  // namespace
}  // namespace metafs::cache
