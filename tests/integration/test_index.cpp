// metafs-index end to end: index a tree, then mount it with the same cache and check that
// the mount extracts nothing and shows the same values as metafs-extract.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "corpus.hpp"
#include "mount_runner.hpp"

namespace fs = std::filesystem;
using metafs::test::binary;
using metafs::test::corpus_dir;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;

namespace {

// One file of each format (two of DICOM, one in a subdirectory), a broken file, a plain file.
const std::vector<std::pair<std::string, std::string>> kDataFiles = {
    {"dicom/fo-dicom_mr.dcm", "mr.dcm"},
    {"dicom/GH1301.dcm", "sub/deeper/chinese.dcm"},
    {"fits/test_i10.fits", "image.fits"},
    {"hdf5/tall.h5", "sub/tall.h5"},
    {"netcdf/ref_nctest_classic.nc", "classic.nc"},
    {"netcdf/test_groups1.nc", "sub/groups.nc"},
    {"malformed/FITS_truncated.fits", "broken.fits"},
};

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.path() / "src";
    cache_ = tmp_.path() / "cache";
    fs::create_directories(src_ / "sub" / "deeper");
    for (const auto& [from, to] : kDataFiles) fs::copy_file(corpus_dir() / from, src_ / to);
    std::ofstream(src_ / "notes.txt") << "plain text\n";
    fs::create_symlink("notes.txt", src_ / "link");
  }

  // Runs metafs-index with `args`; returns its JSON summary.
  nlohmann::json index(const std::string& args) {
    int status = -1;
    std::string out = run_command(shell_quote(binary("metafs-index")) + " " + shell_quote(src_) +
                                      " --json --no-progress " + args,
                                  &status);
    EXPECT_EQ(status, 0) << out;
    try {
      return nlohmann::json::parse(out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "metafs-index printed no JSON summary: " << e.what() << "\n" << out;
      return {};
    }
  }

  // Every data file's metadata.json through the mount against metafs-extract's, then the
  // daemon's statistics.
  nlohmann::json check_mount(MountRunner& mount) {
    EXPECT_TRUE(mount.mounted()) << mount.log();
    if (!mount.mounted()) return {};
    for (const auto& [from, to] : kDataFiles) {
      std::string shown = read_file(mount.mountpoint() / to / "metadata.json");
      std::string expected = run_command(shell_quote(binary("metafs-extract")) + " " +
                                         shell_quote(src_ / to) + " --as json 2>/dev/null");
      EXPECT_FALSE(shown.empty()) << to;
      EXPECT_EQ(nlohmann::json::parse(shown), nlohmann::json::parse(expected)) << to;
    }
    EXPECT_EQ(read_file(mount.mountpoint() / "notes.txt"), "plain text\n");
    EXPECT_FALSE(read_file(mount.mountpoint() / "broken.fits" / "error").empty());
    return nlohmann::json::parse(read_file(mount.mountpoint() / ".metafs" / "stats.json"));
  }

  TempDir tmp_;
  fs::path src_;
  fs::path cache_;
};

TEST_F(IndexTest, MountAfterIndexingExtractsNothing) {
  nlohmann::json summary = index("--cache-dir " + shell_quote(cache_));
  EXPECT_EQ(summary["files"], kDataFiles.size() + 1);  // the symlink is not a file
  EXPECT_EQ(summary["data_files"], kDataFiles.size());
  EXPECT_EQ(summary["extractions"], kDataFiles.size());
  EXPECT_EQ(summary["errors"], 1u);  // the truncated FITS file, cached as an error entry
  EXPECT_EQ(summary["dicom"], 2u);
  EXPECT_EQ(summary["fits"], 2u);
  EXPECT_EQ(summary["cache_dropped"], 0u);

  MountRunner mount(src_, {"--cache-dir", cache_.string()});
  nlohmann::json stats = check_mount(mount);
  EXPECT_EQ(stats["extractions"], 0u) << stats.dump();
  EXPECT_EQ(stats["detections"], 0u) << stats.dump();  // formats come from the cache too
  EXPECT_GE(stats["cache_hits"].get<std::uint64_t>(), kDataFiles.size()) << stats.dump();
}

TEST_F(IndexTest, SecondRunFindsEverythingCached) {
  index("--cache-dir " + shell_quote(cache_) + " --isolation none --workers 1");
  nlohmann::json again = index("--cache-dir " + shell_quote(cache_));
  EXPECT_EQ(again["extractions"], 0u);
  EXPECT_EQ(again["already_cached"], kDataFiles.size());
  // Indexed in-process, mounted with sandboxed workers: the keys are the same.
  MountRunner mount(src_, {"--cache-dir", cache_.string(), "--isolation", "process"});
  EXPECT_EQ(check_mount(mount)["extractions"], 0u);
}

TEST_F(IndexTest, UsesTheDaemonsDefaultCacheDirectory) {
  // Both processes inherit this environment: no --cache-dir anywhere.
  ::unsetenv("CACHE_DIRECTORY");
  ::setenv("XDG_CACHE_HOME", (tmp_.path() / "xdg").c_str(), 1);
  nlohmann::json summary = index("");
  EXPECT_EQ(fs::path(summary["cache_dir"].get<std::string>()).parent_path(),
            tmp_.path() / "xdg" / "metafs");
  MountRunner mount(src_);
  EXPECT_EQ(check_mount(mount)["extractions"], 0u);
}

TEST_F(IndexTest, AnEditedFileIsExtractedAgain) {
  index("--cache-dir " + shell_quote(cache_));
  fs::copy_file(corpus_dir() / "fits" / "m13_hcomp.fits", src_ / "image.fits",
                fs::copy_options::overwrite_existing);
  MountRunner mount(src_, {"--cache-dir", cache_.string()});
  EXPECT_EQ(check_mount(mount)["extractions"], 1u);
}

TEST(IndexOptions, RefusesAMissingSource) {
  TempDir tmp;
  int status = 0;
  std::string out = run_command(
      shell_quote(binary("metafs-index")) + " " + shell_quote(tmp.path() / "missing") + " 2>&1",
      &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("not a readable directory"), std::string::npos) << out;
}

}  // namespace
