// --memory-limit bounds what grows with the number of files, the inodes the kernel holds
// included: past its share the daemon has the kernel drop old entries, and what was dropped
// reads back the same when looked up again.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

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
