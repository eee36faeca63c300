// A damaged cache file must never crash the daemon twice. Each open runs in a child process
// here, so a crash fails the test instead of killing the test binary.
#include <gtest/gtest.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

#include "lmdb_meta.hpp"
#include "lmdb_store.hpp"
#include "store_verifier.hpp"
#include "temp_dir.hpp"

namespace metafs::cache {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

constexpr int kEntries = 3000;

std::string key_of(int i) {
  return "key-" + std::to_string(i);
}

// Small values in leaf pages and some larger than a page (overflow pages).
std::string value_of(int i) {
  std::size_t size = i % 10 == 0 ? 9000 : 100 + static_cast<std::size_t>(i % 300);
  return std::string(size, static_cast<char>('a' + i % 26));
}

LmdbStoreOptions options_for(const fs::path& dir) {
  LmdbStoreOptions o;
  o.dir = dir;
  o.map_size = 32 << 20;
  return o;
}

std::string describe(int status) {
  if (WIFSIGNALED(status)) return std::string("killed by ") + ::sigabbrev_np(WTERMSIG(status));
  return "exit " + std::to_string(WEXITSTATUS(status));
}

// Runs `body` in a forked child and returns its wait status (the body's return is the exit
// code).
template <typename Body>
int in_child(Body body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

// Fills a store. `clean`: closed in order; else the process ends as if it crashed right
// after its last commit (no close: the in-use marker stays).
void populate(const fs::path& dir, bool clean) {
  int status = in_child([&] {
    auto store = std::make_unique<LmdbStore>(options_for(dir));
    if (!store->enabled()) return 3;
    for (int i = 0; i < kEntries; ++i) store->put(key_of(i), value_of(i));
    store->flush();
    if (!clean) ::_exit(0);
    store.reset();
    return 0;
  });
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe(status);
  ASSERT_EQ(fs::exists(dir / "in-use"), !clean);
}

// What a daemon does with its cache: open it, read every entry, write one, close it.
int open_and_use(const fs::path& dir) {
  return in_child([&] {
    LmdbStore store(options_for(dir));
    if (!store.enabled()) return 3;
    volatile std::size_t bytes = 0;
    for (int i = 0; i < kEntries; ++i) {
      if (auto v = store.get(key_of(i))) bytes = bytes + v->size();
    }
    store.put("after", "reopen");
    store.flush();
    if (store.get("after") != "reopen") return 4;
    return 0;
  });
}

int set_aside_files(const fs::path& dir) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    n += entry.path().filename().string().starts_with("data.mdb.corrupt-") ? 1 : 0;
  }
  return n;
}

void expect_healthy_now(const fs::path& dir) {
  LmdbStore store(options_for(dir));
  ASSERT_TRUE(store.enabled());
  EXPECT_EQ(store.get("after"), "reopen");
}

// The damaged cache in `dir` is opened twice, each in a child, and neither crashes; the file
// was set aside once, and the cache works afterwards.
void expect_two_starts_and_one_set_aside(const fs::path& dir) {
  for (int round = 0; round < 2; ++round) {
    int status = open_and_use(dir);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "open " << round + 1 << ": " << describe(status);
  }
  EXPECT_EQ(set_aside_files(dir), 1);
  expect_healthy_now(dir);
}

TEST(CacheDamage, TruncatedToHalfIsSetAsideBeforeMappingAndOpensTwice) {
  TempDir tmp;
  fs::path dir = tmp.path() / "cache";
  populate(dir, true);
  auto size = fs::file_size(dir / "data.mdb");
  fs::resize_file(dir / "data.mdb", size / 2);
  auto problem = lmdb_mapping_problem(dir / "data.mdb");
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("truncated"), std::string::npos) << *problem;

  expect_two_starts_and_one_set_aside(dir);
}

TEST(CacheDamage, RandomBytesAfterAnUncleanStopAreCaughtOutOfProcessAndOpenTwice) {
  TempDir tmp;
  fs::path dir = tmp.path() / "cache";
  populate(dir, false);
  fs::path data = dir / "data.mdb";
  auto size = fs::file_size(data);
  auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  ASSERT_GT(size, 64 * page);
  {
    std::fstream file(data, std::ios::in | std::ios::out | std::ios::binary);
    std::mt19937_64 rng(14);
    for (int i = 0; i < 2000; ++i) {
      file.seekp(static_cast<std::streamoff>(2 * page + rng() % (size - 2 * page)));
      file.put(static_cast<char>(rng()));
    }
  }
  ASSERT_FALSE(lmdb_mapping_problem(data)) << "the meta pages are intact";

  expect_two_starts_and_one_set_aside(dir);
}

// What a random byte in a node header can do: a value size past the end of the file. LMDB
// does not check it, so reading the value in the daemon faults (SIGBUS) on every start; the
// verifier reads it first and dies in its place.
TEST(CacheDamage, AValueSizePastTheEndOfTheFileIsCaughtOutOfProcess) {
  TempDir tmp;
  fs::path dir = tmp.path() / "cache";
  populate(dir, false);
  fs::path data = dir / "data.mdb";
  std::string bytes;
  {
    std::ifstream in(data, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  // LMDB 0.9 leaf pages: flags (P_LEAF 0x02, P_LEAF2 0x20, P_OVERFLOW 0x04) at 10, mp_lower at
  // 12, node offsets from 16; a node is mn_lo, mn_hi (the data size), mn_flags (F_BIGDATA
  // 0x01: the value is on overflow pages), mn_ksize.
  auto u16 = [&](std::size_t at) {
    return static_cast<unsigned>(static_cast<unsigned char>(bytes[at]) |
                                 static_cast<unsigned char>(bytes[at + 1]) << 8);
  };
  int changed = 0;
  for (std::size_t p = 2 * page; p + page <= bytes.size(); p += page) {
    unsigned flags = u16(p + 10);
    if ((flags & 0x02) == 0 || (flags & 0x24) != 0) continue;
    for (std::size_t ptr = p + 16; ptr < p + u16(p + 12); ptr += 2) {
      std::size_t node = p + u16(ptr);
      if (node + 8 > p + page || (u16(node + 4) & 0x01) == 0) continue;
      bytes[node] = bytes[node + 1] = bytes[node + 2] = '\xff';  // 16 MiB
      ++changed;
    }
  }
  ASSERT_GT(changed, 0);
  {
    std::ofstream out(data, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  expect_two_starts_and_one_set_aside(dir);
}

// Damage after a clean close is not looked for (that would read the whole file at every
// start); a crash it causes leaves the marker, so the next start verifies: at most one.
TEST(CacheDamage, DamageAfterACleanCloseCrashesAtMostOnce) {
  TempDir tmp;
  fs::path dir = tmp.path() / "cache";
  populate(dir, true);
  fs::path data = dir / "data.mdb";
  auto size = fs::file_size(data);
  auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  {
    // Every page header past the meta pages: the B-trees are garbage.
    std::fstream file(data, std::ios::in | std::ios::out | std::ios::binary);
    std::mt19937_64 rng(5);
    for (std::uint64_t offset = 2 * page; offset < size; offset += page) {
      file.seekp(static_cast<std::streamoff>(offset));
      for (int i = 0; i < 16; ++i) file.put(static_cast<char>(rng()));
    }
  }
  int first = open_and_use(dir);
  int second = open_and_use(dir);
  int third = open_and_use(dir);
  EXPECT_TRUE(WIFEXITED(second) && WEXITSTATUS(second) == 0)
      << "first " << describe(first) << ", second " << describe(second);
  EXPECT_TRUE(WIFEXITED(third) && WEXITSTATUS(third) == 0) << describe(third);
  EXPECT_EQ(set_aside_files(dir), 1);
  expect_healthy_now(dir);
}

TEST(CacheDamage, TheVerifierPassesAHealthyStoreAndDiesForATruncatedOne) {
  TempDir tmp;
  fs::path dir = tmp.path() / "cache";
  populate(dir, false);
  fs::path verifier = default_store_verifier();
  ASSERT_TRUE(fs::exists(verifier)) << verifier;
  auto healthy = verify_store_out_of_process(dir, verifier);
  EXPECT_FALSE(healthy) << *healthy;
  fs::resize_file(dir / "data.mdb", fs::file_size(dir / "data.mdb") / 2);
  auto truncated = verify_store_out_of_process(dir, verifier);
  ASSERT_TRUE(truncated);
  EXPECT_NE(truncated->find("damaged"), std::string::npos) << *truncated;
  auto missing = verify_store_out_of_process(dir, tmp.path() / "no-such-verifier");
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->find("could not be verified"), std::string::npos) << *missing;
}

TEST(CacheDamage, AFileShorterThanItsMetaPageOrWithABadPageSizeIsReported) {
  TempDir tmp;
  fs::path dir = tmp.path() / "cache";
  populate(dir, true);
  fs::path data = dir / "data.mdb";
  EXPECT_FALSE(lmdb_mapping_problem(data));
  EXPECT_FALSE(lmdb_mapping_problem(dir / "absent"));
  {
    // mm_psize of the first meta page (page header 16 + mm_dbs[0].md_pad at 24).
    std::fstream file(data, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(16 + 24);
    file.put('\x03');
  }
  auto problem = lmdb_mapping_problem(data);
  ASSERT_TRUE(problem);
  EXPECT_NE(problem->find("page size"), std::string::npos) << *problem;
  int status = open_and_use(dir);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << describe(status);
  EXPECT_EQ(set_aside_files(dir), 1);
}

}  // namespace
}  // namespace metafs::cache
