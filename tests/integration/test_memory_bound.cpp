// --memory-limit bounds what grows with the number of files, the inodes the kernel holds
// included: past its share the daemon has the kernel drop old entries, and what was dropped
// reads back the same when looked up again.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "corpus.hpp"
#include "mount_runner.hpp"

namespace fs = std::filesystem;
using metafs::test::corpus_dir;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::stats_of;
using metafs::test::TempDir;

TEST(MemoryBound, TheInodeTableStaysWithinItsShareWhileAWalkGoesOn) {
  TempDir tmp;
  const fs::path src = tmp.path() / "src";
  // 40 directories of 20 FITS files (hard links: the bytes once, 800 names).
  fs::create_directories(src);
  fs::copy_file(corpus_dir() / "fits" / "testprog.std", src / "original.fits");
  for (int d = 0; d < 40; ++d) {
    fs::path dir = src / ("dir" + std::to_string(d));
    fs::create_directory(dir);
    for (int f = 0; f < 20; ++f) {
      fs::create_hard_link(src / "original.fits", dir / ("f" + std::to_string(f) + ".fits"));
    }
  }
  // 1 MiB: a quarter left to the process, 3/16 of the rest (144 KiB) for inodes: a few
  // hundred nodes.
  MountRunner mount(src, {"--no-cache", "--memory-limit", "1M", "--prefetch", "0"});
  ASSERT_TRUE(mount.mounted());
  const auto budget = stats_of(mount)["inode_bytes_budget"].get<std::uint64_t>();
  EXPECT_EQ(budget, (1u << 20) / 4 * 3 / 16 * 3);

  for (int d = 0; d < 40; ++d) {
    for (int f = 0; f < 20; ++f) {
      fs::path file = fs::path("dir" + std::to_string(d)) / ("f" + std::to_string(f) + ".fits");
      ASSERT_EQ(read_file(mount.mountpoint() / file / "fields/0/NAXIS"), "2\n") << file;
    }
  }
  // The trimmer looks every 250 ms; the kernel's forgets follow its requests.
  nlohmann::json stats;
  for (int i = 0; i < 100; ++i) {
    stats = stats_of(mount);
    if (stats["inode_bytes"].get<std::uint64_t>() <= budget) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LE(stats["inode_bytes"].get<std::uint64_t>(), budget) << stats.dump(2);
  EXPECT_GT(stats["inodes_trimmed"].get<std::uint64_t>(), 0u) << stats.dump(2);
  EXPECT_LT(stats["inodes"].get<std::uint64_t>(), 800u) << stats.dump(2);

  // The first directory was dropped long ago: looked up again, it reads the same.
  EXPECT_EQ(read_file(mount.mountpoint() / "dir0/f0.fits/fields/0/NAXIS"), "2\n");
  EXPECT_EQ(read_file(mount.mountpoint() / "dir0/f7.fits/metadata.json"),
            read_file(mount.mountpoint() / "dir39/f7.fits/metadata.json"));
  EXPECT_TRUE(mount.alive());
}

// An open data directory does not keep its view in memory: updatedb opens hundreds of
// directories before it reads them, and each view held that way was memory --memory-limit did
// not see (a 10^5-file updatedb took the daemon to 112 MiB under a 64M limit). Read later,
// each directory lists and looks up its entries as usual.
TEST(MemoryBound, OpenDataDirectoriesDoNotPinTheirViews) {
  TempDir tmp;
  const fs::path src = tmp.path() / "src";
  fs::create_directories(src);
  fs::copy_file(corpus_dir() / "fits" / "testprog.std", src / "original.fits");
  constexpr int kFiles = 120;
  for (int f = 0; f < kFiles; ++f) {
    fs::create_hard_link(src / "original.fits", src / ("f" + std::to_string(f) + ".fits"));
  }
  // 4 MiB: 2.25 MiB for views, a handful of this file's (~330 KB each, as counted).
  MountRunner mount(src, {"--no-cache", "--memory-limit", "4M", "--prefetch", "0"});
  ASSERT_TRUE(mount.mounted());

  std::vector<DIR*> open_dirs;
  for (int f = 0; f < kFiles; ++f) {
    fs::path dir = mount.mountpoint() / ("f" + std::to_string(f) + ".fits");
    DIR* d = ::opendir(dir.c_str());
    ASSERT_NE(d, nullptr) << dir << ": " << std::strerror(errno);
    open_dirs.push_back(d);
  }
  nlohmann::json stats = stats_of(mount);
  const auto alive = stats["views_alive"].get<std::uint64_t>();
  EXPECT_LE(alive, stats["memory_entries"].get<std::uint64_t>() + 2) << stats.dump(2);
  EXPECT_LT(alive, 20u) << stats.dump(2);
  EXPECT_LE(stats["view_bytes_alive"].get<std::uint64_t>(),
            stats["memory_bytes_budget"].get<std::uint64_t>() + (1u << 20))
      << stats.dump(2);

  const std::set<std::string> expected{"format", "header.txt", "metadata.json", "metadata.txt"};
  for (int f = 0; f < kFiles; ++f) {
    const std::string name = "f" + std::to_string(f) + ".fits";
    std::set<std::string> listed;
    while (dirent* e = ::readdir(open_dirs[f])) {
      if (std::string_view(e->d_name) == "." || std::string_view(e->d_name) == "..") continue;
      listed.insert(e->d_name);
      struct stat st {};
      ASSERT_EQ(::fstatat(::dirfd(open_dirs[f]), e->d_name, &st, AT_SYMLINK_NOFOLLOW), 0)
          << name << "/" << e->d_name;
      EXPECT_TRUE(S_ISREG(st.st_mode)) << name << "/" << e->d_name;
    }
    std::set<std::string> want = expected;
    want.insert(name);  // the original file
    EXPECT_EQ(listed, want) << name;
    ::closedir(open_dirs[f]);
  }
  EXPECT_EQ(read_file(mount.mountpoint() / "f0.fits/fields/0/NAXIS"), "2\n");
  EXPECT_EQ(read_file(mount.mountpoint() / "f0.fits/metadata.json"),
            read_file(mount.mountpoint() / ("f" + std::to_string(kFiles - 1) + ".fits") /
                      "metadata.json"));
  EXPECT_TRUE(mount.alive());
}

// group1k.h5 (a 1.3 MB view) under --memory-limit 1M (576 KiB for views) and no cache: its
// view never stays in memory, and each time it is needed again the file is extracted again.
class OversizedView : public ::testing::Test {
 protected:
  // SOURCE, made before the mount below (members are built in order).
  static fs::path make_source(const fs::path& src) {
    fs::create_directories(src);
    fs::copy_file(corpus_dir() / "hdf5" / "group1k.h5", src / "big.h5");
    return src;
  }

  // The names of `dir` but "." and "..", read by opendir and readdir (readdirplus for the
  // kernel's first buffer), and what the daemon's counters `keys` moved meanwhile.
  std::set<std::string> list(const fs::path& dir, std::map<std::string, std::uint64_t>* moved,
                             std::initializer_list<const char*> keys) {
    nlohmann::json before = stats_of(mount_);
    std::set<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    EXPECT_NE(d, nullptr) << dir << ": " << std::strerror(errno);
    if (d == nullptr) return names;
    while (dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace(name);
    }
    ::closedir(d);
    nlohmann::json after = stats_of(mount_);
    for (const char* key : keys) {
      (*moved)[key] = after[key].get<std::uint64_t>() - before[key].get<std::uint64_t>();
    }
    return names;
  }

  TempDir tmp_;
  const fs::path src_ = make_source(tmp_.path() / "src");
  MountRunner mount_{src_, {"--no-cache", "--memory-limit", "1M", "--prefetch", "0"}};
};

// A view larger than the views' whole share of --memory-limit is held only while a request
// uses it: one readdirplus of its directory finds it once (extracted again here, without a
// cache), not once per entry it looks up.
TEST_F(OversizedView, IsFoundOncePerListingRequest) {
  ASSERT_TRUE(mount_.mounted());
  const fs::path dir = mount_.mountpoint() / "big.h5";
  std::map<std::string, std::uint64_t> moved;
  EXPECT_EQ(
      list(dir, &moved, {"lookups", "extractions"}),
      (std::set<std::string>{"format", "header.txt", "metadata.json", "metadata.txt", "big.h5"}));
  EXPECT_GE(moved["lookups"], 5u);  // the entries, looked up by readdirplus
  // opendir's and the listing's (the view left memory in between); 8 when each lookup found
  // it again.
  EXPECT_LE(moved["extractions"], 2u);
  // Nothing keeps it once the requests are done (a request lets go after its reply).
  nlohmann::json after = stats_of(mount_);
  for (int i = 0; i < 100 && after["views_alive"].get<std::uint64_t>() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    after = stats_of(mount_);
  }
  EXPECT_EQ(after["views_alive"].get<std::uint64_t>(), 0u) << after.dump(2);
  EXPECT_EQ(read_file(dir / "format"), "hdf5\n");
  EXPECT_TRUE(mount_.alive());
}

// The same in a directory of the view (fields/ and below): readdirplus looks each entry up in
// the view the request read, not in a view found again per entry (group1k.h5's fields/ has
// 1 003 entries: an extraction of the file per entry looked up, without a cache, before).
TEST_F(OversizedView, IsFoundOncePerFieldsListingRequest) {
  ASSERT_TRUE(mount_.mounted());
  const fs::path fields = mount_.mountpoint() / "big.h5" / "fields";
  ASSERT_TRUE(fs::is_directory(fields));
  std::map<std::string, std::uint64_t> moved;
  EXPECT_EQ(list(fields, &moved, {"lookups", "extractions"}).size(), 1003u);
  // The kernel asks for the first buffer's entries with readdirplus (about 200 of them).
  EXPECT_GE(moved["lookups"], 100u);
  // The listing's read, and once per readdir request at most.
  EXPECT_LE(moved["extractions"], 4u);
  EXPECT_EQ(read_file(fields / "g0000" / "%kind"), "group\n");
  EXPECT_TRUE(mount_.alive());
}
