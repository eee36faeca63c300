#include <gtest/gtest.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "cache_key.hpp"
#include "codec.hpp"
#include "metadata_cache.hpp"
#include "temp_dir.hpp"
#include "test_cache_trees.hpp"

namespace metafs::cache {
namespace {

using extract::encode_extraction;

namespace fs = std::filesystem;
using extract::Extraction;
using extract::Format;
using test::TempDir;

CacheOptions options_for(const fs::path& dir) {
  CacheOptions o;
  o.dir = dir;
  o.disk_limit = 16 << 20;
  o.watch_pressure = false;
  return o;
}

CacheKey key_for(const fs::path& file, const std::string& rel) {
  struct stat st {};
  EXPECT_EQ(stat(file.c_str(), &st), 0);
  return CacheKey{rel, SourceSignature::from_stat(st), 1};
}

std::shared_ptr<const Extraction> sample(unsigned seed) {
  std::mt19937 rng(seed);
  return std::make_shared<const Extraction>(testing::corpus_like(rng, static_cast<int>(seed)));
}

void expect_same(const Extraction& a, const Extraction& b) {
  EXPECT_EQ(a.format, b.format);
  EXPECT_EQ(a.header, b.header);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.extra_files, b.extra_files);
  EXPECT_TRUE(a.tree == b.tree);
}

TEST(CacheMetadataCache, MissPutHitAndSurvivesRestart) {
  TempDir dir;
  std::ofstream(dir.path() / "scan.dcm") << "data";
  CacheKey key = key_for(dir.path() / "scan.dcm", "scan.dcm");
  auto x = sample(0);
  {
    MetadataCache cache(options_for(dir.path() / "cache"));
    EXPECT_EQ(cache.get(key), nullptr);
    cache.put(key, x);
    auto hit = cache.get(key);
    ASSERT_NE(hit, nullptr);
    expect_same(*x, *hit);  // decoded from the write queue: the cache keeps nothing decoded
    cache.put_format(key, Format::kDicom);
    EXPECT_EQ(cache.get_format(key), Format::kDicom);
    CacheStats s = cache.stats();
    EXPECT_EQ(s.misses, 1u);
    EXPECT_EQ(s.hits, 2u);
    EXPECT_TRUE(s.disk_enabled);
  }
  MetadataCache cache(options_for(dir.path() / "cache"));
  auto hit = cache.get(key);
  ASSERT_NE(hit, nullptr);
  expect_same(*x, *hit);
  EXPECT_EQ(cache.get_format(key), Format::kDicom);
  CacheStats s = cache.stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.entries, 2u);
  EXPECT_GT(s.disk_bytes_used, 0u);
  EXPECT_EQ(s.disk_bytes_limit, 16u << 20);
}

TEST(CacheMetadataCache, AnEditedFileIsAMiss) {
  TempDir dir;
  fs::path file = dir.path() / "cube.fits";
  std::ofstream(file) << "version 1";
  CacheKey before = key_for(file, "cube.fits");
  MetadataCache cache(options_for(dir.path() / "cache"));
  cache.put(before, sample(1));
  usleep(20000);
  std::ofstream(file) << "version 2, longer";
  CacheKey after = key_for(file, "cube.fits");
  EXPECT_NE(before.signature, after.signature);
  EXPECT_EQ(cache.get(after), nullptr);
  EXPECT_NE(cache.get(before), nullptr);
  // Another schema version is a different key too.
  CacheKey newer = before;
  newer.schema_version = 2;
  EXPECT_EQ(cache.get(newer), nullptr);
  EXPECT_FALSE(cache.get_format(after));
}

TEST(CacheMetadataCache, ErrorResultsAreCachedLikeOthers) {
  TempDir dir;
  auto poison = std::make_shared<Extraction>();
  poison->format = Format::kHdf5;
  poison->error = "parser crashed (signal 11)";
  CacheKey key{"bad.h5", SourceSignature{1, 2, 3, 4, 5}, 1};
  {
    MetadataCache cache(options_for(dir.path()));
    cache.put(key, poison);
  }
  MetadataCache cache(options_for(dir.path()));
  auto hit = cache.get(key);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->error, "parser crashed (signal 11)");
  EXPECT_EQ(hit->format, Format::kHdf5);
}

// Memory is the extraction service's views alone (extraction/README.md): without a disk
// the cache keeps nothing, so a tree is never held twice.
TEST(CacheMetadataCache, DisabledOrUnusableDiskKeepsNothing) {
  TempDir dir;
  std::ofstream(dir.path() / "file") << "x";
  CacheKey key{"a.nc", SourceSignature{1, 2, 3, 4, 5}, 1};
  for (bool enabled : {false, true}) {
    CacheOptions o = options_for(dir.path() / "file" / "not-a-dir");
    o.enabled = enabled;
    MetadataCache cache(o);
    EXPECT_EQ(cache.get(key), nullptr);
    cache.put(key, sample(2));
    EXPECT_EQ(cache.get(key), nullptr);
    cache.put_format(key, Format::kNetcdf);
    EXPECT_FALSE(cache.get_format(key));
    cache.flush();
    CacheStats s = cache.stats();
    EXPECT_FALSE(s.disk_enabled);
    EXPECT_EQ(s.disk_bytes_limit, 0u);
  }
}

TEST(CacheMetadataCache, PressureIsReportedAndEverythingIsStillServedFromDisk) {
  TempDir dir;
  CacheOptions o = options_for(dir.path());
  o.watch_pressure = true;
  o.pressure.psi_path = dir.path() / "no-such-psi";
  o.pressure.meminfo_path = dir.path() / "no-such-meminfo";
  MetadataCache cache(o);
  for (unsigned i = 0; i < 20; ++i) {
    cache.put(CacheKey{"f" + std::to_string(i), SourceSignature{1, i, 3, 4, 5}, 1}, sample(i));
  }
  cache.pressure_monitor().set_level(PressureLevel::kCritical);
  EXPECT_EQ(cache.stats().pressure, PressureLevel::kCritical);
  cache.flush();
  auto hit = cache.get(CacheKey{"f7", SourceSignature{1, 7, 3, 4, 5}, 1});
  ASSERT_NE(hit, nullptr);
  expect_same(*sample(7), *hit);
  cache.pressure_monitor().set_level(PressureLevel::kNormal);
  EXPECT_EQ(cache.stats().pressure, PressureLevel::kNormal);
}

// Overwrites the tree record of `key` in dir/data.mdb with `record`, behind the cache's back.
void poke_record(const fs::path& dir, const CacheKey& key, const std::string& record) {
  MDB_env* env = nullptr;
  ASSERT_EQ(mdb_env_create(&env), 0);
  ASSERT_EQ(mdb_env_set_maxdbs(env, 4), 0);
  ASSERT_EQ(mdb_env_set_mapsize(env, 16 << 20), 0);
  ASSERT_EQ(mdb_env_open(env, dir.c_str(), 0, 0644), 0);
  MDB_txn* txn = nullptr;
  MDB_dbi dbi;
  ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
  ASSERT_EQ(mdb_dbi_open(txn, "entries", 0, &dbi), 0);
  std::string k = lmdb_key(key, RecordKind::kExtraction);
  MDB_val mk{k.size(), k.data()};
  MDB_val mv{record.size(), const_cast<char*>(record.data())};
  ASSERT_EQ(mdb_put(txn, dbi, &mk, &mv, 0), 0);
  ASSERT_EQ(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

TEST(CacheMetadataCache, ADamagedRecordIsAMissAndIsDeleted) {
  TempDir dir;
  CacheKey key{"x.dcm", SourceSignature{1, 2, 3, 4, 5}, 1};
  {
    MetadataCache cache(options_for(dir.path()));
    cache.put(key, sample(3));
  }
  std::string bytes = encode_extraction(*sample(3));
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x10);
  poke_record(dir.path(), key, encode_record(key, bytes));
  {
    MetadataCache cache(options_for(dir.path()));
    EXPECT_EQ(cache.stats().entries, 1u);
    EXPECT_EQ(cache.get(key), nullptr);
    cache.flush();
    CacheStats s = cache.stats();
    EXPECT_EQ(s.errors, 1u);
    EXPECT_EQ(s.misses, 1u);
    EXPECT_EQ(s.entries, 0u);  // deleted
    cache.put(key, sample(3));
  }
  // A record of another path with the same key (a hash collision) is a miss, not an error.
  CacheKey other = key;
  other.source_path = "y.dcm";
  poke_record(dir.path(), key, encode_record(other, encode_extraction(*sample(3))));
  MetadataCache cache(options_for(dir.path()));
  EXPECT_EQ(cache.get(key), nullptr);
  EXPECT_EQ(cache.stats().errors, 0u);
}

TEST(CacheMetadataCache, ConcurrentGetsAndPuts) {
  TempDir dir;
  MetadataCache cache(options_for(dir.path()));
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (unsigned i = 0; i < 60; ++i) {
        CacheKey key{"f" + std::to_string(i), SourceSignature{1, i, 3, 4, 5}, 1};
        auto hit = cache.get(key);
        if (!hit) {
          cache.put(key, sample(i));
        } else if (!(hit->tree == sample(i)->tree)) {
          ++wrong;
        }
        if (t == 0 && i % 20 == 0) cache.flush();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong, 0);
}

}  // namespace
}  // namespace metafs::cache
