// Reading ahead (--prefetch): asking for one data file's metadata has the daemon extract the
// next files of its directory in the background, so that they are served without an
// extraction; what it serves is what an on-demand extraction shows, a hostile sibling costs
// nothing but its own error, and --prefetch 0 extracts only what is asked for.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
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

namespace {

// Polls stats.json until `extractions` reaches `want` or 10 s pass; returns the last value.
std::uint64_t wait_for_extractions(const MountRunner& mount, std::uint64_t want) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::uint64_t seen = 0;
  while (std::chrono::steady_clock::now() < until) {
    seen = stats_of(mount)["extractions"].get<std::uint64_t>();
    if (seen >= want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return seen;
}

class Prefetch : public ::testing::Test {
 protected:
  // series/: d00.dcm .. d07.dcm and f08.fits .. f11.fits (twelve data files), then a plain
  // file and a subdirectory with a data file of its own (never read ahead from series/).
  void SetUp() override {
    src_ = tmp_.path() / "src";
    fs::create_directories(src_ / "series" / "sub");
    for (int i = 0; i < 8; ++i) {
      fs::copy_file(corpus_dir() / "dicom" / "fo-dicom_mr.dcm", src_ / "series" / name(i, ".dcm"));
    }
    for (int i = 8; i < 12; ++i) {
      fs::copy_file(corpus_dir() / "fits" / "testprog.std", src_ / "series" / name(i, ".fits"));
    }
    { std::ofstream(src_ / "series" / "zz_notes.txt") << "not a data file\n"; }
    fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "series" / "sub" / "x.fits");
  }

  static std::string name(int i, const char* ext) {
    return std::string(i < 8 ? "d" : "f") + (i < 10 ? "0" : "") + std::to_string(i) + ext;
  }

  std::vector<std::string> data_files() const {
    std::vector<std::string> out;
    for (int i = 0; i < 12; ++i) out.push_back("series/" + name(i, i < 8 ? ".dcm" : ".fits"));
    return out;
  }

  TempDir tmp_;
  fs::path src_;
};

}  // namespace

TEST_F(Prefetch, OneReadExtractsItsDirectoryAheadAndTheRestIsServedWithoutExtracting) {
  MountRunner mount(src_, {"--cache-dir", (tmp_.path() / "cache").string()});
  ASSERT_TRUE(mount.mounted());
  const fs::path mnt = mount.mountpoint();
  EXPECT_EQ(read_file(mnt / "series/d03.dcm/fields/Modality"), "MR\n");

  // d03 on demand, the eleven others ahead of any request (the default window is 16).
  EXPECT_EQ(wait_for_extractions(mount, 12), 12u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  nlohmann::json stats = stats_of(mount);
  EXPECT_EQ(stats["extractions"].get<std::uint64_t>(), 12u) << "the subdirectory too?";
  EXPECT_EQ(stats["prefetched"].get<std::uint64_t>(), 11u) << stats.dump(2);

  // Now every file is served from memory and equals what a mount without reading ahead shows.
  MountRunner plain(src_, {"--no-cache", "--prefetch", "0"});
  ASSERT_TRUE(plain.mounted());
  for (const auto& rel : data_files()) {
    EXPECT_EQ(read_file(mnt / rel / "metadata.json"),
              read_file(plain.mountpoint() / rel / "metadata.json"))
        << rel;
  }
  EXPECT_EQ(stats_of(mount)["extractions"].get<std::uint64_t>(), 12u);
  EXPECT_EQ(stats_of(plain)["extractions"].get<std::uint64_t>(), 12u);
  EXPECT_EQ(read_file(mnt / "series/f10.fits/fields/0/NAXIS"), "2\n");
}

// What the disk cache holds is decoded ahead only into memory to spare: with room, a reader
// going through a cached directory finds the next views decoded (no extraction); with little
// memory, reading ahead evicts nothing (a walk over more views than memory holds would
// otherwise decode every view twice and push out the ones it is about to list).
TEST_F(Prefetch, ACachedDirectoryIsDecodedAheadOnlyIntoMemoryToSpare) {
  const std::string cache = (tmp_.path() / "cache").string();
  {
    MountRunner fill(src_, {"--cache-dir", cache});
    ASSERT_TRUE(fill.mounted());
    for (const auto& rel : data_files()) read_file(fill.mountpoint() / rel / "metadata.txt");
    EXPECT_EQ(stats_of(fill)["extractions"].get<std::uint64_t>(), 12u);
  }
  {
    MountRunner roomy(src_, {"--cache-dir", cache});
    ASSERT_TRUE(roomy.mounted());
    EXPECT_EQ(read_file(roomy.mountpoint() / "series/d03.dcm/fields/Modality"), "MR\n");
    nlohmann::json stats;
    for (int i = 0; i < 100; ++i) {
      stats = stats_of(roomy);
      if (stats["memory_entries"].get<std::uint64_t>() == 12u) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(stats["memory_entries"].get<std::uint64_t>(), 12u) << stats.dump(2);
    EXPECT_EQ(stats["extractions"].get<std::uint64_t>(), 0u);
  }
  MountRunner tight(src_, {"--cache-dir", cache, "--memory-limit", "1M"});
  ASSERT_TRUE(tight.mounted());
  EXPECT_EQ(read_file(tight.mountpoint() / "series/d03.dcm/fields/Modality"), "MR\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  nlohmann::json stats = stats_of(tight);
  EXPECT_EQ(stats["extractions"].get<std::uint64_t>(), 0u);
  EXPECT_LT(stats["memory_entries"].get<std::uint64_t>(), 12u) << stats.dump(2);
  EXPECT_EQ(stats["memory_evictions"].get<std::uint64_t>(), 0u) << stats.dump(2);
  EXPECT_EQ(read_file(tight.mountpoint() / "series/f10.fits/fields/0/NAXIS"), "2\n");
  EXPECT_EQ(stats_of(tight)["extractions"].get<std::uint64_t>(), 0u);
}

TEST_F(Prefetch, TheWindowIsTheNextFilesByName) {
  MountRunner mount(src_, {"--no-cache", "--prefetch", "3"});
  ASSERT_TRUE(mount.mounted());
  read_file(mount.mountpoint() / "series/d05.dcm/metadata.txt");
  EXPECT_EQ(wait_for_extractions(mount, 4), 4u);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(stats_of(mount)["extractions"].get<std::uint64_t>(), 4u);
  // d06, d07 and f08 are ready: reading them extracts nothing more.
  for (const char* rel : {"series/d06.dcm", "series/d07.dcm", "series/f08.fits"}) {
    EXPECT_FALSE(read_file(mount.mountpoint() / rel / "metadata.json").empty());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Each of those reads moved the window on: f09, f10 and f11 followed (the window wraps
  // around to d00.. only past the end).
  nlohmann::json stats = stats_of(mount);
  EXPECT_EQ(stats["prefetched"].get<std::uint64_t>(), stats["extractions"].get<std::uint64_t>() - 1)
      << stats.dump(2);
}

// A reader going through a directory keeps the read-ahead one window ahead of it: each file it
// reads adds the one file that entered the window, not a whole window further on (that ran
// the read-ahead away from the reader in a directory of more than a window of files, and the
// queue then dropped the files the reader came to next).
TEST_F(Prefetch, EachReadMovesTheWindowOnByTheFilesThatEnteredIt) {
  MountRunner mount(src_, {"--no-cache", "--prefetch", "3"});
  ASSERT_TRUE(mount.mounted());
  read_file(mount.mountpoint() / "series/d05.dcm/metadata.txt");  // d06, d07, f08 ahead
  EXPECT_EQ(wait_for_extractions(mount, 4), 4u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  read_file(mount.mountpoint() / "series/d06.dcm/metadata.txt");  // f09 entered the window
  EXPECT_EQ(wait_for_extractions(mount, 5), 5u);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  nlohmann::json stats = stats_of(mount);
  EXPECT_EQ(stats["extractions"].get<std::uint64_t>(), 5u) << stats.dump(2);  // was 7
  EXPECT_EQ(stats["prefetched"].get<std::uint64_t>(), 4u) << stats.dump(2);
}

// A window past the last file of a directory goes on into the directory a reader in name order
// enters next: here the next sibling of s1/ (s2/), entered down to its first directory with
// files (s2/b/), as `cat */*/*.fits/metadata.json` goes.
TEST(PrefetchAcrossDirectories, TheWindowGoesOnIntoTheNextDirectoryByName) {
  TempDir tmp;
  const fs::path src = tmp.path() / "src";
  for (const char* rel : {"s1/a/a0.fits", "s1/a/a1.fits", "s2/b/b0.fits", "s2/b/b1.fits",
                          "s2/b/b2.fits", "s2/c/c0.fits"}) {
    fs::create_directories((src / rel).parent_path());
    fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src / rel);
  }
  MountRunner mount(src, {"--no-cache", "--prefetch", "2"});
  ASSERT_TRUE(mount.mounted());
  const fs::path mnt = mount.mountpoint();
  EXPECT_EQ(read_file(mnt / "s1/a/a1.fits/fields/0/NAXIS"), "0\n");  // astropy: 0
  // a1 asked for; a0 (the window wraps around), b0 and b1 ahead.
  EXPECT_EQ(wait_for_extractions(mount, 4), 4u);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  nlohmann::json stats = stats_of(mount);
  EXPECT_EQ(stats["extractions"].get<std::uint64_t>(), 4u) << stats.dump(2);
  EXPECT_EQ(stats["prefetched"].get<std::uint64_t>(), 3u) << stats.dump(2);
  // b0 and b1 are served without an extraction; b1's window brings b2 and then c0 (s2/c/).
  EXPECT_EQ(read_file(mnt / "s2/b/b0.fits/fields/0/NAXIS"), "0\n");
  EXPECT_EQ(read_file(mnt / "s2/b/b1.fits/fields/0/NAXIS"), "0\n");
  EXPECT_EQ(wait_for_extractions(mount, 6), 6u);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stats = stats_of(mount);
  EXPECT_EQ(stats["extractions"].get<std::uint64_t>(), 6u) << stats.dump(2);
  EXPECT_EQ(stats["prefetched"].get<std::uint64_t>(), 5u) << stats.dump(2);
}

// What is read ahead shows in stats.json, which every user reads, and the reader is not known
// to the read-ahead: it never enters a directory others may not list and enter, so a reader
// next door learns nothing of what that directory holds.
TEST(PrefetchAcrossDirectories, NeverEntersADirectoryOthersMayNotList) {
  for (const char* closed : {"s2", "s2/b"}) {
    TempDir tmp;
    const fs::path src = tmp.path() / "src";
    for (const char* rel : {"s1/a/a0.fits", "s1/a/a1.fits", "s2/b/b0.fits", "s2/b/b1.fits"}) {
      fs::create_directories((src / rel).parent_path());
      fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src / rel);
    }
    fs::permissions(src / closed,
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec);  // 0750
    MountRunner mount(src, {"--no-cache", "--prefetch", "2"});
    ASSERT_TRUE(mount.mounted());
    EXPECT_EQ(read_file(mount.mountpoint() / "s1/a/a1.fits/fields/0/NAXIS"), "0\n");
    EXPECT_EQ(wait_for_extractions(mount, 2), 2u);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    nlohmann::json stats = stats_of(mount);
    EXPECT_EQ(stats["extractions"].get<std::uint64_t>(), 2u) << closed << stats.dump(2);
    EXPECT_EQ(stats["detections"].get<std::uint64_t>(), 2u) << closed << stats.dump(2);
  }
}

TEST_F(Prefetch, ZeroExtractsOnlyWhatIsAskedFor) {
  MountRunner mount(src_, {"--no-cache", "--prefetch", "0"});
  ASSERT_TRUE(mount.mounted());
  EXPECT_EQ(read_file(mount.mountpoint() / "series/f09.fits/fields/0/NAXIS"), "2\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  nlohmann::json stats = stats_of(mount);
  EXPECT_EQ(stats["extractions"].get<std::uint64_t>(), 1u);
  EXPECT_EQ(stats["prefetched"].get<std::uint64_t>(), 0u);
}

TEST_F(Prefetch, AHostileSiblingReadAheadCostsOnlyItsOwnError) {
  // A file that crashes libhdf5 among the series, read ahead of any request.
  fs::copy_file(corpus_dir() / "malformed" / "cve-2018-16438.h5", src_ / "series" / "d04x.h5");
  MountRunner mount(src_, {"--no-cache"});
  ASSERT_TRUE(mount.mounted());
  read_file(mount.mountpoint() / "series/d03.dcm/metadata.json");
  EXPECT_EQ(wait_for_extractions(mount, 13), 13u);
  EXPECT_TRUE(mount.alive());
  EXPECT_EQ(stats_of(mount)["extractions"].get<std::uint64_t>(), 13u);
  // A first crash is not yet the file's verdict: the request tries it once more.
  EXPECT_EQ(read_file(mount.mountpoint() / "series/d04x.h5/error"), "extractor crashed: SIGSEGV\n");
  EXPECT_EQ(stats_of(mount)["extractions"].get<std::uint64_t>(), 14u);
  EXPECT_EQ(read_file(mount.mountpoint() / "series/d04x.h5/error"), "extractor crashed: SIGSEGV\n");
  EXPECT_EQ(read_file(mount.mountpoint() / "series/d05.dcm/fields/Modality"), "MR\n");
  EXPECT_EQ(stats_of(mount)["extractions"].get<std::uint64_t>(), 14u);
}
