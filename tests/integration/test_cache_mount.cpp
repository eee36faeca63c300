// The persistent cache through a real mount: bounded on disk, survives restarts, and never
// serves an edited file's old metadata.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
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

class CacheMount : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.path() / "src";
    cache_ = tmp_.path() / "cache";
    // The valid corpus files of every format, several times over.
    for (int copy = 0; copy < 6; ++copy) {
      for (const char* format : {"dicom", "fits", "hdf5", "netcdf"}) {
        fs::path dir = src_ / ("copy" + std::to_string(copy)) / format;
        fs::create_directories(dir);
        for (const auto& file : fs::directory_iterator(corpus_dir() / format)) {
          if (file.is_regular_file()) fs::copy_file(file.path(), dir / file.path().filename());
        }
      }
    }
    for (const auto& entry : fs::recursive_directory_iterator(src_)) {
      if (entry.is_regular_file()) files_.push_back(fs::relative(entry.path(), src_));
    }
    ASSERT_GT(files_.size(), 200u);
  }

  // Every file's metadata.json through `mount`, by relative path.
  std::map<std::string, std::string> read_all(const MountRunner& mount) {
    std::map<std::string, std::string> out;
    for (const auto& rel : files_) {
      out[rel.string()] = read_file(mount.mountpoint() / rel / "metadata.json");
    }
    return out;
  }

  TempDir tmp_;
  fs::path src_, cache_;
  std::vector<fs::path> files_;
};

TEST_F(CacheMount, OneMegabyteCacheEvictsStaysWithinItsLimitAndServesEveryReadCorrectly) {
  std::map<std::string, std::string> reference;
  {
    MountRunner plain(src_, {"--no-cache"});
    ASSERT_TRUE(plain.mounted());
    reference = read_all(plain);
  }
  MountRunner mount(src_,
                    {"--cache-dir", cache_.string(), "--cache-size", "1M", "--memory-limit", "1M"});
  ASSERT_TRUE(mount.mounted()) << mount.log();
  for (int pass = 0; pass < 2; ++pass) {
    auto shown = read_all(mount);
    for (const auto& [rel, json] : reference) {
      ASSERT_FALSE(json.empty()) << rel;
      EXPECT_EQ(shown[rel], json) << rel << " (pass " << pass << ")";
    }
  }
  nlohmann::json stats = stats_of(mount);
  EXPECT_GT(stats["evictions"].get<std::uint64_t>(), 0u) << stats.dump(2);
  EXPECT_EQ(stats["cache_bytes_limit"].get<std::uint64_t>(), 1u << 20);
  EXPECT_LE(stats["cache_file_bytes"].get<std::uint64_t>(), 1u << 20);
  EXPECT_EQ(stats["cache_errors"].get<std::uint64_t>(), 0u);
  mount.stop();
  fs::path data = cache_ / "data.mdb";
  ASSERT_TRUE(fs::exists(data));
  EXPECT_LE(fs::file_size(data), 1u << 20);
}

TEST_F(CacheMount, RestartWithTheSameCacheExtractsNothing) {
  std::map<std::string, std::string> first;
  {
    MountRunner mount(src_, {"--cache-dir", cache_.string()});
    ASSERT_TRUE(mount.mounted());
    first = read_all(mount);
    EXPECT_EQ(stats_of(mount)["extractions"].get<std::uint64_t>(), files_.size());
  }
  MountRunner again(src_, {"--cache-dir", cache_.string()});
  ASSERT_TRUE(again.mounted());
  EXPECT_EQ(read_all(again), first);
  nlohmann::json stats = stats_of(again);
  EXPECT_EQ(stats["extractions"].get<std::uint64_t>(), 0u) << stats.dump(2);
  EXPECT_EQ(stats["detections"].get<std::uint64_t>(), 0u) << stats.dump(2);
  EXPECT_GE(stats["cache_hits"].get<std::uint64_t>(), files_.size());
}

TEST_F(CacheMount, AnEditedFileShowsItsNewMetadataAfterARestart) {
  fs::path rel = "copy0/fits/test_i10.fits";
  {
    MountRunner mount(src_, {"--cache-dir", cache_.string()});
    ASSERT_TRUE(mount.mounted());
    EXPECT_EQ(read_file(mount.mountpoint() / rel / "fields/0/NAXIS"), "0\n");
  }
  // Another FITS file under the same name, while no daemon runs.
  fs::copy_file(corpus_dir() / "fits" / "testprog.std", src_ / rel,
                fs::copy_options::overwrite_existing);
  // Without reading ahead: the one extraction counted is the edited file's.
  MountRunner mount(src_, {"--cache-dir", cache_.string(), "--prefetch", "0"});
  ASSERT_TRUE(mount.mounted());
  EXPECT_EQ(read_file(mount.mountpoint() / rel / "fields/0/NAXIS"), "2\n");
  EXPECT_EQ(stats_of(mount)["extractions"].get<std::uint64_t>(), 1u);
}

TEST(CacheMountDamage, GarbageCacheFileIsMovedAsideAndTheMountWorks) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "src");
  fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", tmp.path() / "src" / "a.fits");
  fs::create_directories(tmp.path() / "cache");
  std::ofstream(tmp.path() / "cache" / "data.mdb") << std::string(100000, 'x');
  MountRunner mount(tmp.path() / "src", {"--cache-dir", (tmp.path() / "cache").string()});
  ASSERT_TRUE(mount.mounted()) << mount.log();
  EXPECT_EQ(read_file(mount.mountpoint() / "a.fits/fields/0/NAXIS"), "0\n");
  EXPECT_EQ(stats_of(mount)["cache_enabled"].get<int>(), 1);
  bool moved_aside = false;
  for (const auto& entry : fs::directory_iterator(tmp.path() / "cache")) {
    moved_aside |= entry.path().filename().string().rfind("data.mdb.corrupt-", 0) == 0;
  }
  EXPECT_TRUE(moved_aside);
}

TEST(CacheMountDamage, UnwritableCacheDirectoryStillMounts) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "src");
  fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", tmp.path() / "src" / "a.fits");
  // A regular file where the cache directory should be: it cannot be created.
  std::ofstream(tmp.path() / "not-a-dir") << "x";
  MountRunner mount(tmp.path() / "src",
                    {"--cache-dir", (tmp.path() / "not-a-dir" / "cache").string()});
  ASSERT_TRUE(mount.mounted()) << mount.log();
  EXPECT_EQ(read_file(mount.mountpoint() / "a.fits/fields/0/NAXIS"), "0\n");
  EXPECT_EQ(stats_of(mount)["cache_enabled"].get<int>(), 0);
}

// Modes as the daemon leaves them, whatever the umask it was started with.
void expect_private_cache(const fs::path& dir) {
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << dir;
  for (const auto& entry : fs::directory_iterator(dir)) {
    ASSERT_EQ(::lstat(entry.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << entry.path();
  }
}

TEST(CacheMountDamage, ACacheTruncatedToHalfIsSetAsideAndMountsTwiceAndStaysPrivate) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "src");
  fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", tmp.path() / "src" / "a.fits");
  fs::path cache = tmp.path() / "cache";
  struct Umask000 {
    mode_t old = ::umask(0);
    ~Umask000() { ::umask(old); }
  } open_umask;
  std::vector<std::string> options{"--cache-dir", cache.string()};
  {
    MountRunner mount(tmp.path() / "src", options);
    ASSERT_TRUE(mount.mounted()) << mount.log();
    EXPECT_EQ(read_file(mount.mountpoint() / "a.fits/fields/0/NAXIS"), "0\n");
  }
  expect_private_cache(cache);
  EXPECT_FALSE(fs::exists(cache / "in-use")) << "an orderly stop closes the cache";
  fs::resize_file(cache / "data.mdb", fs::file_size(cache / "data.mdb") / 2);
  for (int round = 0; round < 2; ++round) {
    MountRunner mount(tmp.path() / "src", options);
    ASSERT_TRUE(mount.mounted()) << "mount " << round + 1 << ": " << mount.log();
    EXPECT_EQ(read_file(mount.mountpoint() / "a.fits/fields/0/NAXIS"), "0\n");
    EXPECT_EQ(stats_of(mount)["cache_enabled"].get<int>(), 1);
  }
  int moved_aside = 0;
  for (const auto& entry : fs::directory_iterator(cache)) {
    moved_aside += entry.path().filename().string().rfind("data.mdb.corrupt-", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(moved_aside, 1);
  expect_private_cache(cache);
}

// A daemon killed with SIGKILL leaves its cache unverified; damaged meanwhile, the next start
// has it read by metafs-cache-verify in a child process, sets it aside, and serves.
TEST(CacheMountDamage, ADamagedCacheLeftByAKilledDaemonIsVerifiedAndSetAsideAtTheNextStart) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "src");
  for (int i = 0; i < 20; ++i) {
    fs::copy_file(corpus_dir() / "fits" / "test_i10.fits",
                  tmp.path() / "src" / ("a" + std::to_string(i) + ".fits"));
  }
  fs::path cache = tmp.path() / "cache";
  std::vector<std::string> options{"--cache-dir", cache.string()};
  {
    MountRunner mount(tmp.path() / "src", options);
    ASSERT_TRUE(mount.mounted()) << mount.log();
    for (int i = 0; i < 20; ++i) {
      read_file(mount.mountpoint() / ("a" + std::to_string(i) + ".fits") / "metadata.json");
    }
    for (int wait = 0; wait < 200 && stats_of(mount)["cache_entries"].get<std::uint64_t>() < 20;
         ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(::kill(mount.pid(), SIGKILL), 0);
    while (mount.alive()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(fs::exists(cache / "in-use"));
  {
    // Garbage over every page header past the two meta pages.
    auto size = fs::file_size(cache / "data.mdb");
    auto page = static_cast<std::uintmax_t>(::sysconf(_SC_PAGESIZE));
    std::fstream file(cache / "data.mdb", std::ios::in | std::ios::out | std::ios::binary);
    for (std::uintmax_t offset = 2 * page; offset < size; offset += page) {
      file.seekp(static_cast<std::streamoff>(offset));
      file.write("\xff\x13\x77\x01\xfe\xee\x10\x00\x00\x21\x02\x00\xff\xff\x00\x01", 16);
    }
  }
  for (int round = 0; round < 2; ++round) {
    MountRunner mount(tmp.path() / "src", options);
    ASSERT_TRUE(mount.mounted()) << "mount " << round + 1 << ": " << mount.log();
    EXPECT_EQ(read_file(mount.mountpoint() / "a3.fits/fields/0/NAXIS"), "0\n");
    EXPECT_EQ(stats_of(mount)["cache_enabled"].get<int>(), 1);
    if (round == 0) {
      EXPECT_NE(mount.log().find("not closed cleanly and damaged"), std::string::npos)
          << mount.log();
    }
  }
  int moved_aside = 0;
  for (const auto& entry : fs::directory_iterator(cache)) {
    moved_aside += entry.path().filename().string().rfind("data.mdb.corrupt-", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(moved_aside, 1);
}

}  // namespace
