// What a data file's directory lists and what it holds by name, through a real mount: fields/
// is kept out of listings (--fields=hidden, the default) yet reachable by name.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <memory>
#include <set>
#include <sstream>
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

// One data file per format: its name in SOURCE and where it comes from in the corpus.
struct DataFile {
  const char* name;
  const char* corpus;
};
constexpr DataFile kDataFiles[] = {{"mr.dcm", "dicom/fo-dicom_mr.dcm"},
                                   {"image.fits", "fits/test_i10.fits"},
                                   {"classic.nc", "netcdf/ref_nctest_classic.nc"},
                                   {"tall.h5", "hdf5/tall.h5"}};

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

// The value metadata.txt gives for `path` (under fields/), or "" when it has none.
std::string txt_value(const fs::path& data_dir, const std::string& path) {
  std::istringstream lines(read_file(data_dir / "metadata.txt"));
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(path + "\t", 0) == 0) return line.substr(path.size() + 1);
  }
  return "";
}

class DataDirLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.path() / "src";
    fs::create_directories(src_ / "dir");
    for (const DataFile& file : kDataFiles) {
      fs::copy_file(corpus_dir() / file.corpus, src_ / "dir" / file.name);
    }
    metafs::test::write_file(src_ / "dir" / "notes.txt", "plain\n");
  }

  void mount(std::vector<std::string> args = {}) {
    mount_ = std::make_unique<MountRunner>(src_, std::move(args));
    ASSERT_TRUE(mount_->mounted());
    mnt_ = mount_->mountpoint();
  }

  void TearDown() override {
    if (mount_) {
      EXPECT_TRUE(mount_->alive()) << "the daemon died\n" << mount_->log();
    }
    mount_.reset();
  }

  // `find` over the mount, one path per line, sorted.
  std::string find_all() const {
    return run_command("find " + shell_quote(mnt_.string()) + " | sort");
  }

  TempDir tmp_;
  fs::path src_;
  fs::path mnt_;
  std::unique_ptr<MountRunner> mount_;
};

TEST_F(DataDirLayoutTest, FieldsIsOutOfListingsButReachableByName) {
  mount();
  for (const DataFile& file : kDataFiles) {
    const fs::path dir = mnt_ / "dir" / file.name;
    EXPECT_EQ(names_in(dir).count("fields"), 0u) << file.name;
    EXPECT_EQ(run_command("ls -a " + shell_quote(dir.string())).find("fields"), std::string::npos)
        << file.name;
    // A directory listing the subdirectories it has: none.
    struct stat st {};
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 2u) << file.name;
    // By name: lookup, ls, cd, and a listing inside as before.
    ASSERT_TRUE(fs::is_directory(dir / "fields")) << file.name;
    EXPECT_FALSE(names_in(dir / "fields").empty()) << file.name;
    int status = -1;
    std::string listed =
        run_command("cd " + shell_quote((dir / "fields").string()) + " && ls", &status);
    EXPECT_EQ(status, 0) << file.name;
    EXPECT_FALSE(listed.empty()) << file.name;
  }
  const fs::path dicom = mnt_ / "dir" / "mr.dcm";
  std::string modality = txt_value(dicom, "Modality");
  ASSERT_FALSE(modality.empty());
  EXPECT_EQ(run_command("cat " + shell_quote((dicom / "fields" / "Modality").string())),
            modality + "\n");
  EXPECT_EQ(read_file(mnt_ / "dir" / "image.fits" / "fields" / "0" / "NAXIS"),
            txt_value(mnt_ / "dir" / "image.fits", "0/NAXIS") + "\n");
  // Shell completion works inside fields/ (it lists), not for the hidden name itself.
  std::string completed = run_command(
      "bash -c " + shell_quote("compgen -f " + shell_quote((dicom / "fields" / "Modal").string())));
  EXPECT_EQ(completed, (dicom / "fields" / "Modality").string() + "\n");
  EXPECT_EQ(
      run_command("bash -c " + shell_quote("compgen -f " + shell_quote((dicom / "fie").string()))),
      "");
  // A walk sees a handful of entries per data file, none below fields/.
  std::string walked = find_all();
  EXPECT_EQ(walked.find("/fields"), std::string::npos) << walked;
  EXPECT_NE(walked.find((dicom / "metadata.txt").string()), std::string::npos) << walked;
}

TEST_F(DataDirLayoutTest, FieldsVisibleListsIt) {
  mount({"--fields=visible"});
  for (const DataFile& file : kDataFiles) {
    const fs::path dir = mnt_ / "dir" / file.name;
    EXPECT_EQ(names_in(dir).count("fields"), 1u) << file.name;
    struct stat st {};
    ASSERT_EQ(::stat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 3u) << file.name;  // fields/ counted: find descends into it
  }
  std::string walked = find_all();
  EXPECT_NE(walked.find((mnt_ / "dir" / "mr.dcm" / "fields" / "Modality").string()),
            std::string::npos);
  EXPECT_NE(walked.find((mnt_ / "dir" / "image.fits" / "fields" / "0" / "NAXIS").string()),
            std::string::npos);
}

TEST(DataDirLayoutOptions, FieldsTakesHiddenOrVisible) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "src");
  fs::create_directories(tmp.path() / "mnt");
  int status = 0;
  std::string out = run_command(shell_quote(binary("metafs").string()) + " --fields=shown " +
                                    shell_quote((tmp.path() / "src").string()) + " " +
                                    shell_quote((tmp.path() / "mnt").string()) + " 2>&1",
                                &status);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("--fields"), std::string::npos) << out;
  std::string help = run_command(shell_quote(binary("metafs").string()) + " --help");
  EXPECT_NE(help.find("--fields"), std::string::npos);
  EXPECT_NE(help.find("fields/ is hidden from listings"), std::string::npos);
}

}  // namespace
