// The query index kept with the cache: maintained on put, overwrite and eviction in the same
// write transactions, rebuilt when missing or for other fields, and queries answered from it
// as from a scan of the records.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <set>

#include "cache_key.hpp"
#include "metadata_cache.hpp"
#include "query_engine.hpp"
#include "temp_dir.hpp"

namespace metafs::query {
namespace {

namespace fs = std::filesystem;
using cache::CacheKey;
using cache::CacheOptions;
using cache::MetadataCache;
using cache::SourceSignature;
using extract::Extraction;
using extract::Format;
using extract::MetaTree;
using test::TempDir;

CacheOptions options_for(const fs::path& dir, const IndexFields& fields,
                         std::uint64_t limit = 16 << 20) {
  CacheOptions o;
  o.dir = dir;
  o.disk_limit = limit;
  o.watch_pressure = false;
  o.index = cache_index_options(fields);
  return o;
}

CacheKey key_of(int i) {
  SourceSignature s;
  s.dev = 1;
  s.ino = static_cast<std::uint64_t>(i) + 100;
  s.size = 10;
  return CacheKey{"dir/scan" + std::to_string(i) + ".dcm", s, 1};
}

std::shared_ptr<const Extraction> scan(int i, std::size_t padding = 0) {
  auto x = std::make_shared<Extraction>();
  x->format = Format::kDicom;
  MetaTree& t = x->tree;
  t.add_value(MetaTree::kRoot, "PatientID", "P" + std::to_string(i % 3));
  t.add_value(MetaTree::kRoot, "Modality", i % 2 ? "MR" : "CT");
  t.add_value(MetaTree::kRoot, "StudyDate", std::to_string(20240100 + i));
  t.add_value(MetaTree::kRoot, "Rows", std::to_string(i * 10));
  if (padding) {
    std::mt19937 rng(static_cast<unsigned>(i));  // incompressible, so the map fills
    std::string pad(padding, ' ');
    for (char& c : pad) c = static_cast<char>('a' + rng() % 26);
    t.add_value(MetaTree::kRoot, "Pad", pad);
  }
  return x;
}

std::set<std::string> paths(QueryEngine& engine, const std::vector<std::string>& words,
                            QueryStats* stats = nullptr) {
  std::set<std::string> out;
  for (const QueryFile& f : engine.run(
           parse_query(words), [](const std::string&, const SourceSignature&) { return true; },
           stats)) {
    out.insert(f.path);
  }
  return out;
}

std::set<std::string> scans(std::initializer_list<int> ids) {
  std::set<std::string> out;
  for (int i : ids) out.insert(key_of(i).source_path);
  return out;
}

std::size_t index_pairs(MetadataCache& cache) {
  std::size_t n = 0;
  cache.scan_index("", [&](std::string_view, std::string_view) { return ++n, true; });
  return n;
}

TEST(QueryIndex, AnswersFromTheIndexAsAScanWould) {
  TempDir dir;
  MetadataCache cache(options_for(dir.path(), default_index_fields()));
  for (int i = 0; i < 8; ++i) cache.put(key_of(i), scan(i));
  cache.flush();
  QueryEngine engine(cache);
  ASSERT_TRUE(engine.index_fields().has_value());
  QueryStats stats;
  EXPECT_EQ(paths(engine, {"Modality=MR"}, &stats), scans({1, 3, 5, 7}));
  EXPECT_EQ(stats.scanned, 0u);
  EXPECT_EQ(stats.decoded, 0u);
  EXPECT_EQ(paths(engine, {"Modality=MR", "PatientID=P0"}), scans({3}));
  EXPECT_EQ(paths(engine, {"StudyDate>=20240106"}), scans({6, 7}));
  EXPECT_EQ(paths(engine, {"StudyDate<20240102", "-o", "PatientID=P2"}), scans({0, 1, 2, 5}));
  EXPECT_EQ(paths(engine, {"PatientID!=P0", "Modality~^C"}), scans({2, 4}));
  EXPECT_EQ(paths(engine, {"format=dicom"}).size(), 8u);
  // Rows is not indexed: the index narrows, the records decide.
  stats = {};
  EXPECT_EQ(paths(engine, {"Modality=CT", "Rows>=40"}, &stats), scans({4, 6}));
  EXPECT_EQ(stats.scanned, 0u);
  EXPECT_EQ(stats.decoded, 4u);
  stats = {};
  EXPECT_EQ(paths(engine, {"Rows<20"}, &stats), scans({0, 1}));
  EXPECT_EQ(stats.scanned, 8u);
  EXPECT_EQ(paths(engine, {"**/Rows=70"}), scans({7}));
}

TEST(QueryIndex, AGlobFirstNameSeeksOneRangePerName) {
  TempDir dir;
  MetadataCache cache(options_for(dir.path(), parse_index_fields("*/OBJECT,*,*/*/OBJECT")));
  // First names that sort between another's two ranges ("0\t…" < "0#2…" < "0-x…" < "0/…").
  const char* firsts[] = {"0", "0#2", "0-x", "1", "DATE", "DATE-OBS", "Z"};
  for (int i = 0; i < 7; ++i) {
    auto x = std::make_shared<Extraction>();
    x->format = Format::kFits;
    x->tree.add_value(MetaTree::kRoot, firsts[i], "top");
    auto hdu = x->tree.dir(MetaTree::kRoot, std::string(firsts[i]) + "/");  // escaped as %2F
    x->tree.add_value(x->tree.dir(MetaTree::kRoot, firsts[i] + std::string("d")), "OBJECT",
                      "M" + std::to_string(i));
    x->tree.add_value(hdu, "OBJECT", "X");
    cache.put(key_of(i), x);
  }
  cache.flush();
  QueryEngine engine(cache);
  QueryStats stats;
  EXPECT_EQ(paths(engine, {"*/OBJECT~^M"}, &stats), scans({0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(stats.scanned, 0u);
  EXPECT_EQ(paths(engine, {"*/OBJECT=M5"}), scans({5}));
  EXPECT_EQ(paths(engine, {"*/OBJECT=X"}).size(), 7u);
}

TEST(QueryIndex, OverwriteAndEvictionTakeTheirTermsAlong) {
  TempDir dir;
  // A small map: the padded entries push the oldest out.
  MetadataCache cache(options_for(dir.path(), default_index_fields(), 1 << 20));
  cache.put(key_of(0), scan(0));
  cache.flush();
  std::size_t one = index_pairs(cache);
  EXPECT_EQ(one, 4u);             // PatientID, Modality, StudyDate, format
  cache.put(key_of(0), scan(1));  // the same key with other values
  cache.flush();
  EXPECT_EQ(index_pairs(cache), one);
  QueryEngine engine(cache);
  EXPECT_EQ(paths(engine, {"Modality=CT"}), scans({}));
  EXPECT_EQ(paths(engine, {"Modality=MR"}), scans({0}));
  for (int i = 1; i < 200; ++i) {
    cache.put(key_of(i), scan(i, 16 << 10));
    if (i % 10 == 0) cache.flush();
  }
  cache.flush();
  cache::CacheStats s = cache.stats();
  ASSERT_GT(s.evictions, 0u);
  // Every pair left names an entry that is still there, and every entry has its terms.
  std::set<std::string> keys;
  cache.scan_extractions([&](std::string_view key, std::string_view, std::string_view) {
    keys.emplace(key);
    return true;
  });
  std::size_t pairs = 0;
  cache.scan_index("", [&](std::string_view, std::string_view key) {
    ++pairs;
    EXPECT_TRUE(keys.count(std::string(key))) << "a term of an evicted entry is left";
    return true;
  });
  EXPECT_EQ(pairs, keys.size() * 4);
  EXPECT_EQ(paths(engine, {"StudyDate=20240100"}), scans({}));  // evicted first
}

TEST(QueryIndex, RebuiltWhenMissingOrForOtherFields) {
  TempDir dir;
  {
    CacheOptions o = options_for(dir.path(), default_index_fields());
    o.index = {};  // written without an index
    MetadataCache cache(o);
    for (int i = 0; i < 5; ++i) cache.put(key_of(i), scan(i));
  }
  {
    MetadataCache cache(options_for(dir.path(), default_index_fields()));
    QueryEngine engine(cache);
    ASSERT_TRUE(engine.index_fields().has_value());
    QueryStats stats;
    EXPECT_EQ(paths(engine, {"Modality=MR"}, &stats), scans({1, 3}));
    EXPECT_EQ(stats.scanned, 0u);
  }
  {
    MetadataCache cache(options_for(dir.path(), parse_index_fields("Rows")));
    QueryEngine engine(cache);
    EXPECT_EQ(index_pairs(cache), 5u);
    QueryStats stats;
    EXPECT_EQ(paths(engine, {"Rows>20"}, &stats), scans({3, 4}));
    EXPECT_EQ(stats.scanned, 0u);
    EXPECT_EQ(paths(engine, {"Modality=MR"}, &stats), scans({1, 3}));
    EXPECT_EQ(stats.scanned, 5u);  // no longer indexed
  }
  {
    // A reader keeps what it finds.
    CacheOptions o = options_for(dir.path(), default_index_fields());
    o.index = {};
    o.index.keep = true;
    MetadataCache cache(o);
    QueryEngine engine(cache);
    ASSERT_TRUE(engine.index_fields().has_value());
    EXPECT_EQ(engine.index_fields()->fingerprint(), parse_index_fields("Rows").fingerprint());
  }
}

TEST(QueryIndex, AcceptDecidesWhichVersionIsShown) {
  TempDir dir;
  MetadataCache cache(options_for(dir.path(), default_index_fields()));
  CacheKey old_key = key_of(1);
  CacheKey new_key = old_key;
  new_key.signature.size = 11;  // edited: a new version, the old record stays
  cache.put(old_key, scan(1));  // MR
  cache.put(new_key, scan(2));  // CT
  cache.flush();
  QueryEngine engine(cache);
  auto current = [&](const std::string&, const SourceSignature& s) {
    return s == new_key.signature;
  };
  EXPECT_TRUE(engine.run(parse_query({"Modality=MR"}), current).empty());
  auto found = engine.run(parse_query({"Modality=CT"}), current);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].key, cache::lmdb_key(new_key, cache::RecordKind::kExtraction));
}

// accept runs after the reads, once per candidate record and in path order (a mount's accept
// counts and stops at its listing limit); on threads it answers the same.
TEST(QueryIndex, AcceptIsAskedOncePerRecordInPathOrderOnAnyThreads) {
  TempDir dir;
  MetadataCache cache(options_for(dir.path(), default_index_fields(), 64 << 20));
  const int n = 1200;  // 720 candidates: read_many prefetches on threads from 512
  for (int i = 0; i < n; ++i) {
    cache.put(key_of(i), scan(i, 6000));  // overflow pages: read_many's hinted reads
    if (i % 10 == 1) {
      CacheKey edited = key_of(i);
      edited.signature.size = 11;  // a newer version of the file, also MR
      cache.put(edited, scan(i, 6000));
    }
  }
  cache.flush();
  QueryEngine engine(cache);
  auto current = [](const std::string& path, const SourceSignature& s) {
    int i = std::stoi(path.substr(std::string("dir/scan").size()));
    return s.size == (i % 10 == 1 ? 11u : 10u) && i % 7 != 0;  // i % 7 == 0: unreadable
  };
  std::vector<std::string> asked;
  auto sequential = engine.run(parse_query({"Modality=MR"}),
                               [&](const std::string& path, const SourceSignature& s) {
                                 asked.push_back(path);
                                 return current(path, s);
                               });
  EXPECT_TRUE(std::is_sorted(asked.begin(), asked.end()));
  std::size_t odd = n / 2, edited = n / 10;  // MR: the odd ones; each edited one twice
  EXPECT_EQ(asked.size(), odd + edited);
  std::set<std::string> expected;
  for (int i = 1; i < n; i += 2) {
    if (i % 7 != 0) expected.insert(key_of(i).source_path);
  }
  std::set<std::string> got;
  for (const QueryFile& f : sequential) {
    EXPECT_TRUE(got.insert(f.path).second) << f.path << " twice";
    SourceSignature sig;
    cache::RecordKind kind;
    ASSERT_TRUE(cache::parse_lmdb_key(f.key, &kind, &sig));
    EXPECT_TRUE(current(f.path, sig)) << f.path << ": not the current version";
  }
  EXPECT_EQ(got, expected);

  engine.set_accept_threads(8);
  std::atomic<std::size_t> calls{0};
  auto threaded = engine.run(parse_query({"Modality=MR"}),
                             [&](const std::string& path, const SourceSignature& s) {
                               ++calls;
                               return current(path, s);
                             });
  EXPECT_EQ(calls.load(), odd + edited);
  ASSERT_EQ(threaded.size(), sequential.size());
  for (std::size_t i = 0; i < threaded.size(); ++i) {
    EXPECT_EQ(threaded[i].path, sequential[i].path);
    EXPECT_EQ(threaded[i].key, sequential[i].key);
  }
  // The records behind the answer, read back whole and in the answer's (path) order, which
  // metafs-query --columns prints.
  std::size_t decoded = 0;
  engine.decode(threaded, [&](const QueryFile& f, const Extraction& x) {
    EXPECT_EQ(f.path, threaded[decoded].path);
    ++decoded;
    int i = std::stoi(f.path.substr(std::string("dir/scan").size()));
    EXPECT_EQ(x.tree.size(), scan(i, 6000)->tree.size()) << f.path;
  });
  EXPECT_EQ(decoded, threaded.size());
}

}  // namespace
}  // namespace metafs::query
