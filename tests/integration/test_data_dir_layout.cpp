// What a data file's directory lists and what it holds by name, through a real mount: fields/
// is kept out of listings (--fields=hidden, the default) yet reachable by name; the original
// file is there too, read as the source file is, by those who may read it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "corpus.hpp"
#include "mount_runner.hpp"
#include "test_user.hpp"

namespace fs = std::filesystem;
using metafs::test::binary;
using metafs::test::corpus_dir;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;
using metafs::test::TestUser;

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

// The original file inside its directory: the source's bytes, size, times and mode.
TEST_F(DataDirLayoutTest, OriginalIsTheSourceFileByteForByte) {
  mount();
  for (const DataFile& file : kDataFiles) {
    const fs::path source = src_ / "dir" / file.name;
    const fs::path original = mnt_ / "dir" / file.name / file.name;
    EXPECT_EQ(names_in(mnt_ / "dir" / file.name).count(file.name), 1u) << file.name;
    struct stat a {
    }, b{};
    ASSERT_EQ(::stat(source.c_str(), &a), 0);
    ASSERT_EQ(::stat(original.c_str(), &b), 0) << file.name;
    EXPECT_TRUE(S_ISREG(b.st_mode)) << file.name;
    EXPECT_EQ(b.st_mode, a.st_mode) << file.name;
    EXPECT_EQ(b.st_size, a.st_size) << file.name;
    EXPECT_EQ(b.st_uid, a.st_uid) << file.name;
    EXPECT_EQ(b.st_mtim.tv_sec, a.st_mtim.tv_sec) << file.name;
    EXPECT_EQ(b.st_mtim.tv_nsec, a.st_mtim.tv_nsec) << file.name;
    // du counts the file's blocks once: on the original, not on its directory.
    EXPECT_EQ(b.st_blocks, a.st_blocks) << file.name;
    struct stat dir {};
    ASSERT_EQ(::stat((mnt_ / "dir" / file.name).c_str(), &dir), 0);
    EXPECT_EQ(dir.st_blocks, 0) << file.name;
    int status = -1;
    run_command("cmp " + shell_quote(source.string()) + " " + shell_quote(original.string()),
                &status);
    EXPECT_EQ(status, 0) << file.name << " differs through the mount";
    const fs::path copy = tmp_.path() / (std::string("copy-") + file.name);
    run_command("cp " + shell_quote(original.string()) + " " + shell_quote(copy.string()), &status);
    EXPECT_EQ(status, 0) << file.name;
    EXPECT_EQ(read_file(copy), read_file(source)) << file.name;
  }
}

// The format's own tools read the original as they read the source file: the same output
// (but for the path each prints) and the same exit status.
TEST_F(DataDirLayoutTest, FormatToolsReadTheOriginal) {
  mount();
  const std::pair<const char*, const char*> tools[] = {{"dcmdump", "mr.dcm"},
                                                       {"ncdump -h", "classic.nc"},
                                                       {"h5dump -H", "tall.h5"},
                                                       {"h5ls -r", "tall.h5"},
                                                       {"fitsverify", "image.fits"}};
  for (const auto& [tool, name] : tools) {
    const fs::path source = src_ / "dir" / name;
    const fs::path original = mnt_ / "dir" / name / name;
    int native_status = -1, mounted_status = -1;
    std::string native = run_command(
        std::string(tool) + " " + shell_quote(source.string()) + " 2>&1", &native_status);
    std::string mounted = run_command(
        std::string(tool) + " " + shell_quote(original.string()) + " 2>&1", &mounted_status);
    EXPECT_EQ(mounted_status, native_status) << tool << "\n" << mounted;
    EXPECT_EQ(mounted_status, 0) << tool << "\n" << mounted;
    auto strip = [](std::string text, const std::string& path) {
      for (std::size_t at; (at = text.find(path)) != std::string::npos;)
        text.erase(at, path.size());
      return text;
    };
    EXPECT_EQ(strip(mounted, original.string()), strip(native, source.string())) << tool;
  }
}

// A data file whose name is one of its view's own names keeps the view's file under that
// name; the original is then `original`. A name SOURCE holds is never too long to show.
TEST_F(DataDirLayoutTest, OriginalGivesWayToTheViewsOwnNames) {
  fs::create_directories(src_ / "odd");
  fs::copy_file(corpus_dir() / "dicom" / "fo-dicom_mr.dcm", src_ / "odd" / "metadata.json");
  fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "odd" / "format");
  fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "odd" / "fields");
  const std::string long_name = std::string(250, 'l') + ".fits";  // 255 bytes: NAME_MAX
  fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "odd" / long_name);
  mount();
  const fs::path odd = mnt_ / "odd";
  nlohmann::json json =
      nlohmann::json::parse(read_file(odd / "metadata.json" / "metadata.json"), nullptr, false);
  EXPECT_TRUE(json.is_object());  // the view's JSON, not the DICOM file
  EXPECT_EQ(read_file(odd / "format" / "format"), "fits\n");
  EXPECT_TRUE(fs::is_directory(odd / "fields" / "fields"));
  for (const char* name : {"metadata.json", "format", "fields"}) {
    EXPECT_EQ(names_in(odd / name).count("original"), 1u) << name;
    EXPECT_EQ(read_file(odd / name / "original"), read_file(src_ / "odd" / name)) << name;
  }
  EXPECT_EQ(names_in(odd / long_name).count(long_name), 1u);
  EXPECT_EQ(read_file(odd / long_name / long_name), read_file(src_ / "odd" / long_name));
  EXPECT_FALSE(fs::exists(odd / long_name / "original"));
}

// An edited data file: its original shows the new bytes (the old version's inode is stale, the
// kernel looks the name up again), never the old ones from a cache.
TEST_F(DataDirLayoutTest, OriginalFollowsAnEditedFile) {
  mount();
  const fs::path source = src_ / "dir" / "image.fits";
  const fs::path original = mnt_ / "dir" / "image.fits" / "image.fits";
  ASSERT_EQ(read_file(original), read_file(source));
  std::string edited = read_file(corpus_dir() / "fits" / "vla_logical_null.fits");
  ASSERT_NE(edited, read_file(source));
  metafs::test::write_file(source, edited);  // in place: the same inode
  std::string seen;
  for (int i = 0; i < 50 && seen != edited; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    seen = read_file(original);
  }
  EXPECT_EQ(seen, edited) << "still the old bytes after 5 s";
}

// The same where nothing tells the kernel (no inotify watch) and it keeps names for long: the
// open of the old version's original fails ESTALE, the kernel looks the name up again and
// opens the new version's at once.
TEST_F(DataDirLayoutTest, AnUnwatchedOriginalFollowsAnEditedFileAtTheNextOpen) {
  mount({"--max-watches", "0", "--entry-timeout", "300", "--attr-timeout", "300"});
  const fs::path source = src_ / "dir" / "image.fits";
  const fs::path original = mnt_ / "dir" / "image.fits" / "image.fits";
  ASSERT_EQ(read_file(original), read_file(source));
  std::string edited = read_file(corpus_dir() / "fits" / "vla_logical_null.fits");
  metafs::test::write_file(source, edited);
  EXPECT_EQ(read_file(original), edited);
  int status = -1;
  std::string out = run_command("fitsverify -q " + shell_quote(original.string()), &status);
  EXPECT_EQ(status, 0) << out;
}

// With -o allow_other, the original is read as the source file: nobody reads a 0600 file (or
// one an ACL denies them) through the mount.
TEST_F(DataDirLayoutTest, OriginalIsReadOnlyByThoseWhoMayReadTheSource) {
  fs::permissions(tmp_.path(), fs::perms(0755));  // others must reach the mount point
  ::chmod(src_.c_str(), 0755);
  ::chmod((src_ / "dir").c_str(), 0755);
  ::chmod((src_ / "dir" / "mr.dcm").c_str(), 0600);
  ::chmod((src_ / "dir" / "image.fits").c_str(), 0644);
  ::chmod((src_ / "dir" / "classic.nc").c_str(), 0644);
  TestUser user("orig");
  TestUser denied("deny");
  int status = -1;
  std::string out = run_command("setfacl -m " + shell_quote("u:" + denied.name() + ":---") + " " +
                                    shell_quote((src_ / "dir" / "classic.nc").string()) + " 2>&1",
                                &status);
  ASSERT_EQ(status, 0) << out;
  mount_ = std::make_unique<MountRunner>(src_, std::vector<std::string>{"-o", "allow_other"},
                                         tmp_.path() / "mnt");
  ASSERT_TRUE(mount_->mounted());
  mnt_ = mount_->mountpoint();
  auto cat = [&](const TestUser& who, const std::string& rel, int* code) {
    return who.run("cat " + shell_quote((mnt_ / "dir" / rel).string()), code);
  };
  out = cat(user, "image.fits/image.fits", &status);
  EXPECT_EQ(status, 0) << out;  // readable in SOURCE: readable here
  out = cat(user, "mr.dcm/mr.dcm", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
  // Root reads it: the bytes are there, the user is refused.
  EXPECT_EQ(read_file(mnt_ / "dir" / "mr.dcm" / "mr.dcm"), read_file(src_ / "dir" / "mr.dcm"));
  // An ACL in SOURCE denies one user the file, not the other.
  out = cat(user, "classic.nc/classic.nc", &status);
  EXPECT_EQ(status, 0) << out;
  out = cat(denied, "classic.nc/classic.nc", &status);
  EXPECT_NE(status, 0);
  // The original shows the source's own ACL, as a plain file does.
  auto getfacl = [](const fs::path& path) {
    return run_command("getfacl -n --omit-header " + shell_quote(path.string()) + " 2>&1");
  };
  EXPECT_EQ(getfacl(mnt_ / "dir" / "classic.nc" / "classic.nc"),
            getfacl(src_ / "dir" / "classic.nc"));
  EXPECT_NE(out.find("Permission denied"), std::string::npos) << out;
}

}  // namespace
