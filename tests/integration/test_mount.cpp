// The mount end to end: a real metafs process mounting a temporary source tree.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "corpus.hpp"
#include "mount_runner.hpp"

namespace fs = std::filesystem;
using metafs::test::corpus_dir;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;
using metafs::test::write_file;

namespace {

// The value of a keyword in a FITS primary header, read straight from the file's cards.
std::string fits_card_value(const fs::path& file, const std::string& keyword) {
  std::string bytes = read_file(file).substr(0, 2880 * 4);
  for (std::size_t at = 0; at + 80 <= bytes.size(); at += 80) {
    std::string card = bytes.substr(at, 80);
    if (card.rfind("END ", 0) == 0) break;  // the primary header only
    if (card.substr(0, 8).find_last_not_of(' ') + 1 == keyword.size() &&
        card.rfind(keyword, 0) == 0 && card[8] == '=') {
      std::string value = card.substr(10);
      value = value.substr(0, value.find('/'));
      value.erase(0, value.find_first_not_of(' '));
      value.erase(value.find_last_not_of(' ') + 1);
      return value;
    }
  }
  return "";
}

class MountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.path() / "src";
    fs::create_directories(src_ / "sub" / "deeper");
    write_file(src_ / "notes.txt", "plain text, passed through\n");
    write_file(src_ / "sub" / "deeper" / "data.bin", std::string(200000, '\x5a'));
    fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "image.fits");
    fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "sub" / "copy.fits");
    fs::copy_file(corpus_dir() / "dicom" / "fo-dicom_mr.dcm", src_ / "sub" / "mr.dcm");
    fs::copy_file(corpus_dir() / "netcdf" / "ref_nctest_classic.nc", src_ / "classic.nc");
    fs::copy_file(corpus_dir() / "hdf5" / "tall.h5", src_ / "tall.h5");
    fs::create_symlink("/etc/passwd", src_ / "outside-link");
    fs::create_symlink("notes.txt", src_ / "inside-link");
    ::chmod((src_ / "notes.txt").c_str(), 0640);
    struct timeval times[2] = {{1000000000, 0}, {1234567890, 0}};
    ::utimes((src_ / "notes.txt").c_str(), times);
    mount_ = std::make_unique<MountRunner>(src_);
    ASSERT_TRUE(mount_->mounted());
    mnt_ = mount_->mountpoint();
  }

  void TearDown() override {
    int pid = mount_ ? mount_->pid() : -1;
    if (mount_) {
      EXPECT_TRUE(mount_->alive()) << "the daemon died during the test (pid " << pid << ")\n"
                                   << mount_->log();
    }
    mount_.reset();
  }

  TempDir tmp_;
  fs::path src_;
  fs::path mnt_;
  std::unique_ptr<MountRunner> mount_;
};

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

TEST_F(MountTest, RootMirrorsSourcePlusControlDirectory) {
  std::set<std::string> expected = names_in(src_);
  expected.insert(".metafs");
  EXPECT_EQ(names_in(mnt_), expected);
  EXPECT_EQ(names_in(mnt_ / "sub"), names_in(src_ / "sub"));
}

TEST_F(MountTest, PlainFilesPassThroughWithSameBytesSizeTimesOwnerAndMode) {
  for (const char* rel : {"notes.txt", "sub/deeper/data.bin"}) {
    struct stat a {
    }, b{};
    ASSERT_EQ(::stat((src_ / rel).c_str(), &a), 0);
    ASSERT_EQ(::stat((mnt_ / rel).c_str(), &b), 0) << rel;
    EXPECT_TRUE(S_ISREG(b.st_mode)) << rel;
    EXPECT_EQ(a.st_size, b.st_size) << rel;
    EXPECT_EQ(a.st_mode, b.st_mode) << rel;
    EXPECT_EQ(a.st_uid, b.st_uid) << rel;
    EXPECT_EQ(a.st_gid, b.st_gid) << rel;
    EXPECT_EQ(a.st_mtim.tv_sec, b.st_mtim.tv_sec) << rel;
    EXPECT_EQ(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec) << rel;
    int status = -1;
    run_command("cmp -s " + shell_quote(src_ / rel) + " " + shell_quote(mnt_ / rel), &status);
    EXPECT_EQ(status, 0) << rel << " differs through the mount";
  }
}

TEST_F(MountTest, ScientificFilesAreDirectoriesWithTheContractFiles) {
  for (const char* rel : {"image.fits", "sub/copy.fits", "sub/mr.dcm", "classic.nc", "tall.h5"}) {
    ASSERT_TRUE(fs::is_directory(mnt_ / rel)) << rel;
    std::set<std::string> names = names_in(mnt_ / rel);
    for (const char* required : {"format", "metadata.txt", "metadata.json", "header.txt"}) {
      EXPECT_EQ(names.count(required), 1u) << rel << " lacks " << required;
    }
    // fields/ is out of listings (--fields=hidden, the default) but there by name.
    EXPECT_EQ(names.count("fields"), 0u) << rel;
    EXPECT_TRUE(fs::is_directory(mnt_ / rel / "fields")) << rel;
  }
  EXPECT_EQ(read_file(mnt_ / "image.fits" / "format"), "fits\n");
  EXPECT_EQ(read_file(mnt_ / "sub/mr.dcm" / "format"), "dicom\n");
  EXPECT_EQ(read_file(mnt_ / "classic.nc" / "format"), "netcdf\n");
  EXPECT_EQ(read_file(mnt_ / "tall.h5" / "format"), "hdf5\n");
}

TEST_F(MountTest, DataDirectoryInheritsOwnerTimesAndReadPermission) {
  struct stat src {
  }, dir{}, file{};
  ASSERT_EQ(::stat((src_ / "image.fits").c_str(), &src), 0);
  ASSERT_EQ(::stat((mnt_ / "image.fits").c_str(), &dir), 0);
  ASSERT_EQ(::stat((mnt_ / "image.fits" / "format").c_str(), &file), 0);
  EXPECT_TRUE(S_ISDIR(dir.st_mode));
  EXPECT_EQ(dir.st_uid, src.st_uid);
  EXPECT_EQ(dir.st_mtim.tv_sec, src.st_mtim.tv_sec);
  EXPECT_EQ(file.st_mode & 07777, src.st_mode & 0444);
  EXPECT_EQ(dir.st_mode & 0444, src.st_mode & 0444);
}

TEST_F(MountTest, FitsFieldsMatchTheFileCards) {
  fs::path file = src_ / "image.fits";
  for (const char* keyword : {"SIMPLE", "BITPIX", "NAXIS", "EXTEND"}) {
    std::string expected = fits_card_value(file, keyword);
    ASSERT_FALSE(expected.empty()) << keyword;
    EXPECT_EQ(read_file(mnt_ / "image.fits" / "fields" / "0" / keyword), expected + "\n")
        << keyword;
  }
  EXPECT_FALSE(fs::exists(mnt_ / "image.fits" / "error"))
      << read_file(mnt_ / "image.fits" / "error");
}

TEST_F(MountTest, EveryVirtualFileSizeEqualsTheBytesRead) {
  std::size_t files = 0;
  for (const char* rel : {"image.fits", "sub/mr.dcm", "classic.nc", "tall.h5"}) {
    // The data directory and, not listed in it, fields/.
    for (const fs::path& top : {mnt_ / rel, mnt_ / rel / "fields"}) {
      for (const auto& entry : fs::recursive_directory_iterator(top)) {
        if (!entry.is_regular_file()) continue;
        struct stat st {};
        ASSERT_EQ(::stat(entry.path().c_str(), &st), 0);
        std::string bytes = read_file(entry.path());
        EXPECT_EQ(static_cast<std::size_t>(st.st_size), bytes.size()) << entry.path();
        ++files;
      }
    }
  }
  EXPECT_GT(files, 20u);
}

TEST_F(MountTest, MetadataTxtAndJsonDescribeTheSameLeaves) {
  for (const char* rel : {"image.fits", "sub/mr.dcm", "classic.nc", "tall.h5"}) {
    fs::path dir = mnt_ / rel;
    nlohmann::json json;
    ASSERT_NO_THROW(json = nlohmann::json::parse(read_file(dir / "metadata.json"))) << rel;
    ASSERT_TRUE(json.is_object()) << rel;
    // Each metadata.txt line names a fields/ file whose content is the (escaped) value.
    std::istringstream lines(read_file(dir / "metadata.txt"));
    std::string line;
    std::size_t checked = 0;
    while (std::getline(lines, line)) {
      auto tab = line.find('\t');
      ASSERT_NE(tab, std::string::npos) << line;
      std::string path = line.substr(0, tab);
      std::string value = line.substr(tab + 1);
      std::string content = read_file(dir / "fields" / path);
      ASSERT_FALSE(content.empty()) << path;
      content.pop_back();  // the newline
      bool plain = std::none_of(content.begin(), content.end(),
                                [](char c) { return static_cast<unsigned char>(c) < 0x20; });
      if (plain) {
        EXPECT_EQ(content, value) << path;
      }
      nlohmann::json::json_pointer pointer("/" + std::regex_replace(path, std::regex("~"), "~0"));
      EXPECT_TRUE(json.contains(pointer)) << rel << ": " << path << " missing in metadata.json";
      if (++checked > 300) break;
    }
  }
}

TEST_F(MountTest, WritesFailWithReadOnlyFilesystem) {
  auto expect_erofs = [](int rc, const char* what) {
    EXPECT_EQ(rc, -1) << what;
    EXPECT_EQ(errno, EROFS) << what << ": " << std::strerror(errno);
  };
  expect_erofs(::open((mnt_ / "new.txt").c_str(), O_CREAT | O_WRONLY, 0644), "create");
  expect_erofs(::open((mnt_ / "notes.txt").c_str(), O_WRONLY), "open for write");
  expect_erofs(::unlink((mnt_ / "notes.txt").c_str()), "unlink");
  expect_erofs(::mkdir((mnt_ / "dir").c_str(), 0755), "mkdir");
  expect_erofs(::rename((mnt_ / "notes.txt").c_str(), (mnt_ / "moved.txt").c_str()), "rename");
  expect_erofs(::chmod((mnt_ / "notes.txt").c_str(), 0777), "chmod");
  expect_erofs(::truncate((mnt_ / "notes.txt").c_str(), 0), "truncate");
  expect_erofs(::rmdir((mnt_ / "sub").c_str()), "rmdir");
  expect_erofs(::symlink("x", (mnt_ / "link").c_str()), "symlink");
  expect_erofs(::open((mnt_ / "image.fits" / "format").c_str(), O_WRONLY), "write virtual file");
  EXPECT_EQ(read_file(src_ / "notes.txt"), "plain text, passed through\n");
}

TEST_F(MountTest, SymlinksAreShownNotFollowed) {
  struct stat st {};
  ASSERT_EQ(::lstat((mnt_ / "outside-link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(fs::read_symlink(mnt_ / "outside-link"), "/etc/passwd");
  EXPECT_EQ(fs::read_symlink(mnt_ / "inside-link"), "notes.txt");
  EXPECT_EQ(read_file(mnt_ / "inside-link"), "plain text, passed through\n");
}

TEST_F(MountTest, FindAndGrepWorkOverTheMount) {
  int status = -1;
  std::string found =
      run_command("find " + shell_quote(mnt_) + " -name metadata.txt | sort", &status);
  EXPECT_EQ(status, 0);
  std::string expected;
  for (const char* rel : {"classic.nc", "image.fits", "sub/copy.fits", "sub/mr.dcm", "tall.h5"}) {
    expected += (mnt_ / rel / "metadata.txt").string() + "\n";
  }
  EXPECT_EQ(found, expected);
  std::string hits =
      run_command("grep -rl --include=metadata.txt -e '^0/NAXIS' " + shell_quote(mnt_) + " | sort");
  EXPECT_EQ(hits, (mnt_ / "image.fits/metadata.txt").string() + "\n" +
                      (mnt_ / "sub/copy.fits/metadata.txt").string() + "\n");
}

TEST_F(MountTest, AViewsDirectoryIsListedOnceThenServedFromTheKernelsCache) {
  const fs::path dir = mnt_ / "sub" / "mr.dcm" / "fields";
  const std::set<std::string> first = names_in(dir);
  EXPECT_TRUE(first.contains("Modality"));
  auto replies = [&] {
    return metafs::test::stats_of(*mount_)["readdir_replies"].get<std::uint64_t>();
  };
  const std::uint64_t after_first = replies();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(names_in(dir), first);
  EXPECT_EQ(replies(), after_first);  // opened again, but listed by the kernel
  // A mirrored directory can change: it is listed by the daemon every time.
  (void)names_in(mnt_ / "sub");
  const std::uint64_t after_mirror = replies();
  (void)names_in(mnt_ / "sub");
  EXPECT_GT(replies(), after_mirror);
}

TEST_F(MountTest, ControlFilesReportTheDaemon) {
  EXPECT_EQ(read_file(mnt_ / ".metafs" / "version").rfind("metafs ", 0), 0u);
  (void)read_file(mnt_ / "image.fits" / "metadata.txt");
  nlohmann::json stats = nlohmann::json::parse(read_file(mnt_ / ".metafs" / "stats.json"));
  EXPECT_GT(stats["lookups"].get<std::uint64_t>(), 0u);
  EXPECT_GE(stats["extractions"].get<std::uint64_t>(), 1u);
  EXPECT_TRUE(stats["extraction_seconds"].contains("p99"));
  std::string metrics = read_file(mnt_ / ".metafs" / "metrics");
  EXPECT_NE(metrics.find("# TYPE metafs_extraction_seconds histogram"), std::string::npos);
  EXPECT_NE(metrics.find("metafs_extractions_total "), std::string::npos);
}

TEST(MountOptions, RefusesBadSourceAndMountpoint) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "src" / "inner");
  fs::create_directories(tmp.path() / "mnt");
  std::string metafs = shell_quote(metafs::test::binary("metafs"));
  int status = 0;
  std::string out = run_command(metafs + " " + shell_quote(tmp.path() / "missing") + " " +
                                    shell_quote(tmp.path() / "mnt") + " 2>&1",
                                &status);
  EXPECT_EQ(status, 2);
  EXPECT_NE(out.find("source"), std::string::npos) << out;
  out = run_command(metafs + " " + shell_quote(tmp.path() / "src") + " " +
                        shell_quote(tmp.path() / "src" / "inner") + " 2>&1",
                    &status);
  EXPECT_EQ(status, 2);
  EXPECT_NE(out.find("inside source"), std::string::npos) << out;
  out = run_command(metafs + " " + shell_quote(tmp.path() / "src") + " " +
                        shell_quote(tmp.path() / "nomnt") + " 2>&1",
                    &status);
  EXPECT_EQ(status, 2);
  EXPECT_NE(out.find("mountpoint"), std::string::npos) << out;
  if (::geteuid() == 0) {  // only root hands the workers to another account
    for (const char* user : {"no-such-user-metafs", "root"}) {
      out = run_command(metafs + " --worker-user " + user + " " + shell_quote(tmp.path() / "src") +
                            " " + shell_quote(tmp.path() / "mnt") + " 2>&1",
                        &status);
      EXPECT_EQ(status, 2) << user;
      EXPECT_NE(out.find("--worker-user"), std::string::npos) << out;
    }
  }
  out = run_command(metafs + " --help", &status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(out.find("--cache-size"), std::string::npos);
}

}  // namespace
