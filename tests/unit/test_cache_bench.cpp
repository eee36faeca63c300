// Prints the numbers for the closing note; asserts only loose sanity bounds so it stays a
// real test (a broken store fails it) without being a timed test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "cache_key.hpp"
#include "codec.hpp"
#include "lmdb_store.hpp"
#include "metadata_cache.hpp"
#include "render.hpp"
#include "test_cache_trees.hpp"

namespace metafs::cache {
namespace {

using extract::decode_extraction;
using extract::encode_extraction;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

TEST(CacheBench, EncodedSizeVersusJson) {
  std::mt19937 rng(1);
  const char* names[] = {"dicom-like", "fits-like", "hdf5-like"};
  for (int which = 0; which < 3; ++which) {
    extract::Extraction x = testing::corpus_like(rng, which);
    std::string json = extract::render_json(x.tree);
    std::string encoded = encode_extraction(x);
    std::size_t everything = json.size() + x.header.size();
    for (const auto& [name, content] : x.extra_files) everything += content.size();
    auto start = Clock::now();
    constexpr int kRounds = 200;
    for (int i = 0; i < kRounds; ++i) ASSERT_EQ(encode_extraction(x).size(), encoded.size());
    double encode_us = seconds_since(start) / kRounds * 1e6;
    start = Clock::now();
    for (int i = 0; i < kRounds; ++i)
      ASSERT_EQ(decode_extraction(encoded).tree.size(), x.tree.size());
    double decode_us = seconds_since(start) / kRounds * 1e6;
    std::printf(
        "[bench] %-10s nodes %5zu  metadata.json %6zu B  json+header+extras %6zu B  encoded %5zu B "
        "(%.1f%% of json)  encode %.0f us  decode %.0f us\n",
        names[which], x.tree.size(), json.size(), everything, encoded.size(),
        100.0 * static_cast<double>(encoded.size()) / static_cast<double>(json.size()), encode_us,
        decode_us);
    EXPECT_LT(encoded.size(), json.size());
  }
}

TEST(CacheBench, StorePutGetThroughput) {
  std::string pattern = (fs::temp_directory_path() / "metafs-cache-bench-XXXXXX").string();
  fs::path dir = mkdtemp(pattern.data());
  constexpr int kEntries = 3000;
  std::mt19937 rng(2);
  std::vector<std::string> values;
  for (int i = 0; i < 30; ++i) values.push_back(encode_extraction(testing::corpus_like(rng, i)));
  std::uint64_t bytes = 0;
  {
    LmdbStoreOptions o;
    o.dir = dir;
    o.map_size = 256 << 20;
    LmdbStore store(o);
    auto start = Clock::now();
    for (int i = 0; i < kEntries; ++i) {
      const std::string& v = values[static_cast<std::size_t>(i) % values.size()];
      bytes += v.size();
      store.put("key-" + std::to_string(i), v);
    }
    store.flush();
    double put_s = seconds_since(start);
    start = Clock::now();
    for (int i = 0; i < kEntries; ++i) {
      ASSERT_EQ(store.get("key-" + std::to_string(i))->size(),
                values[static_cast<std::size_t>(i) % values.size()].size());
    }
    double get_s = seconds_since(start);
    LmdbStoreStats s = store.stats();
    std::printf(
        "[bench] store: %d puts (%.1f MB) in %.3f s = %.0f puts/s incl. commit; %d gets in %.3f s "
        "= %.0f gets/s; file %llu B, used %llu B\n",
        kEntries, static_cast<double>(bytes) / 1e6, put_s, kEntries / put_s, kEntries, get_s,
        kEntries / get_s, static_cast<unsigned long long>(s.file_bytes),
        static_cast<unsigned long long>(s.used_bytes));
    EXPECT_EQ(s.entries, static_cast<std::uint64_t>(kEntries));
  }
  {
    // Warm start: every get decodes from disk (memory LRU empty after the restart).
    CacheOptions o;
    o.dir = dir / "facade";
    o.watch_pressure = false;
    {
      MetadataCache cache(o);
      std::mt19937 r(3);
      for (unsigned i = 0; i < 1000; ++i) {
        cache.put(CacheKey{"f" + std::to_string(i), SourceSignature{1, i, 3, 4, 5}, 1},
                  std::make_shared<const extract::Extraction>(
                      testing::corpus_like(r, static_cast<int>(i))));
      }
    }
    MetadataCache cache(o);
    auto start = Clock::now();
    for (unsigned i = 0; i < 1000; ++i) {
      ASSERT_NE(cache.get(CacheKey{"f" + std::to_string(i), SourceSignature{1, i, 3, 4, 5}, 1}),
                nullptr);
    }
    double cold_s = seconds_since(start);
    start = Clock::now();
    for (unsigned i = 0; i < 1000; ++i) {
      ASSERT_NE(cache.get(CacheKey{"f" + std::to_string(i), SourceSignature{1, i, 3, 4, 5}, 1}),
                nullptr);
    }
    double warm_s = seconds_since(start);
    std::printf(
        "[bench] MetadataCache after restart: 1000 gets from disk (read+decode) %.1f us each; "
        "from memory %.2f us each\n",
        cold_s / 1000 * 1e6, warm_s / 1000 * 1e6);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace metafs::cache
