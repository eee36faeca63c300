// POSIX ACLs in SOURCE are honoured through an allow_other mount: a user an ACL denies reads
// nothing of a file or directory (its bytes, its listing, its data directory and every view
// file), a user an ACL grants reads what the mode bits alone would refuse. Runs as root (the
// mount needs it) and reads as unprivileged users the test creates.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "corpus.hpp"
#include "mount_runner.hpp"
#include "test_user.hpp"

namespace fs = std::filesystem;
using metafs::test::corpus_dir;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::stats_of;
using metafs::test::TempDir;
using metafs::test::write_file;

using metafs::test::TestUser;

namespace {

constexpr const char* kAclXattr = "system.posix_acl_access";

struct Outcome {
  int status = -1;
  std::string output;  // stdout and stderr
  bool denied() const {
    return status != 0 && output.find("Permission denied") != std::string::npos;
  }
};

// Runs `command` with sh as `user`: its status and output (stdout and stderr).
Outcome run_as(const TestUser& user, const std::string& command) {
  Outcome outcome;
  outcome.output = run_command(
      "runuser -u " + shell_quote(user.name()) + " -- sh -c " + shell_quote(command) + " 2>&1",
      &outcome.status);
  return outcome;
}

void setfacl(const std::string& spec, const fs::path& path) {
  int status = 0;
  std::string out = run_command(
      "setfacl -m " + shell_quote(spec) + " " + shell_quote(path.string()) + " 2>&1", &status);
  ASSERT_EQ(status, 0) << "setfacl " << spec << " " << path << ": " << out;
}

// The ACL as getfacl prints it (numeric ids, no header), or "" when there is none beyond the
// mode bits.
std::string getfacl(const fs::path& path) {
  return run_command("getfacl -n --omit-header --skip-base " + shell_quote(path.string()) +
                     " 2>&1");
}

// The extended attribute names of `path` as listxattr gives them.
std::vector<std::string> xattr_names(const fs::path& path) {
  std::string buffer(4096, '\0');
  ssize_t n = ::llistxattr(path.c_str(), buffer.data(), buffer.size());
  EXPECT_GE(n, 0) << path << ": " << std::strerror(errno);
  std::vector<std::string> names;
  for (std::size_t at = 0; n > 0 && at < static_cast<std::size_t>(n);) {
    names.emplace_back(buffer.c_str() + at);
    at += names.back().size() + 1;
  }
  return names;
}

class AclTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The users must reach the mount point (made here: MountRunner's own directory is 0700).
    fs::permissions(tmp_.path(), fs::perms(0755));
    src_ = tmp_.path() / "src";
    fs::create_directories(src_ / "dir");
    write_file(src_ / "plain.txt", "plain bytes\n");
    write_file(src_ / "dir" / "inner.txt", "inner bytes\n");
    fs::copy_file(corpus_dir() / "dicom" / "fo-dicom_mr.dcm", src_ / "scan.dcm");
    fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "image.fits");
    fs::copy_file(corpus_dir() / "malformed" / "FITS_truncated.fits", src_ / "broken.fits");
    for (const char* name :
         {"plain.txt", "dir/inner.txt", "scan.dcm", "image.fits", "broken.fits"}) {
      ::chmod((src_ / name).c_str(), 0644);
    }
    ::chmod(src_.c_str(), 0755);
    ::chmod((src_ / "dir").c_str(), 0755);
  }

  void mount() {
    mount_ = std::make_unique<MountRunner>(src_, std::vector<std::string>{"-o", "allow_other"},
                                           tmp_.path() / "mnt");
    ASSERT_TRUE(mount_->mounted());
    mnt_ = mount_->mountpoint();
  }

  void TearDown() override {
    if (mount_) {
      EXPECT_TRUE(mount_->alive()) << "the daemon died during the test\n" << mount_->log();
    }
    mount_.reset();
  }

  std::string at(const std::string& rel) const { return shell_quote((mnt_ / rel).string()); }

  TempDir tmp_;
  fs::path src_;
  fs::path mnt_;
  std::unique_ptr<MountRunner> mount_;
};

TEST_F(AclTest, AnAclDenialHoldsOnEveryPath) {
  TestUser denied("d");
  TestUser other("o");
  for (const char* name : {"plain.txt", "dir", "scan.dcm", "image.fits", "broken.fits"}) {
    setfacl("u:" + denied.name() + ":---", src_ / name);
  }
  // Native behaviour first: the test means what it says.
  ASSERT_TRUE(run_as(denied, "cat " + shell_quote((src_ / "plain.txt").string())).denied());
  mount();

  const std::vector<std::string> reads = {
      "cat " + at("plain.txt"),
      "ls " + at("dir"),
      "cat " + at("dir/inner.txt"),
      "ls " + at("scan.dcm"),
      "ls " + at("scan.dcm/fields"),
      "cat " + at("scan.dcm/format"),
      "cat " + at("scan.dcm/metadata.txt"),
      "cat " + at("scan.dcm/metadata.json"),
      "cat " + at("scan.dcm/header.txt"),
      "cat " + at("scan.dcm/dicom.json"),
      "cat " + at("scan.dcm/fields/Modality"),
      "cat " + at("image.fits/metadata.txt"),
      "cat " + at("image.fits/fields/0/BITPIX"),
      "cat " + at("broken.fits/error"),
  };
  for (const std::string& command : reads) {
    Outcome denied_outcome = run_as(denied, command);
    EXPECT_TRUE(denied_outcome.denied())
        << command << " as the denied user: " << denied_outcome.status << " "
        << denied_outcome.output;
    Outcome other_outcome = run_as(other, command);
    EXPECT_EQ(other_outcome.status, 0)
        << command << " as a user without an ACL entry: " << other_outcome.output;
  }
  EXPECT_EQ(run_as(other, "cat " + at("plain.txt")).output, "plain bytes\n");
  EXPECT_EQ(run_as(other, "cat " + at("scan.dcm/fields/Modality")).output, "MR\n");
  // /.metafs is not in SOURCE: it stays readable.
  EXPECT_EQ(run_as(denied, "cat " + at(".metafs/version")).status, 0);

  // Every entry of a view carries the data file's denial, not only its directory (a process
  // that was inside before the ACL changed meets it there too).
  const std::string deny_line = "user:" + std::to_string(denied.uid()) + ":---";
  for (const char* rel : {"scan.dcm", "scan.dcm/fields", "scan.dcm/format", "scan.dcm/metadata.txt",
                          "scan.dcm/metadata.json", "scan.dcm/header.txt", "scan.dcm/dicom.json",
                          "scan.dcm/fields/Modality", "broken.fits/error"}) {
    EXPECT_NE(getfacl(mnt_ / rel).find(deny_line), std::string::npos) << rel << ":\n"
                                                                      << getfacl(mnt_ / rel);
  }
  // Mirrored paths show SOURCE's ACL unchanged.
  EXPECT_EQ(getfacl(mnt_ / "plain.txt"), getfacl(src_ / "plain.txt"));
  EXPECT_EQ(getfacl(mnt_ / "dir"), getfacl(src_ / "dir"));
}

TEST_F(AclTest, AnAclGrantOpensWhatTheModeBitsClose) {
  TestUser granted("g");
  TestUser other("o");
  ::chmod((src_ / "plain.txt").c_str(), 0600);
  ::chmod((src_ / "scan.dcm").c_str(), 0600);
  ::chmod((src_ / "dir").c_str(), 0700);
  setfacl("u:" + granted.name() + ":r", src_ / "plain.txt");
  setfacl("u:" + granted.name() + ":r", src_ / "scan.dcm");
  setfacl("u:" + granted.name() + ":rx", src_ / "dir");
  mount();

  const std::vector<std::string> reads = {
      "cat " + at("plain.txt"),
      "ls " + at("dir"),
      "cat " + at("dir/inner.txt"),
      "ls " + at("scan.dcm"),
      "cat " + at("scan.dcm/metadata.txt"),
      "cat " + at("scan.dcm/fields/Modality"),
  };
  for (const std::string& command : reads) {
    Outcome granted_outcome = run_as(granted, command);
    EXPECT_EQ(granted_outcome.status, 0)
        << command << " as the granted user: " << granted_outcome.output;
    Outcome other_outcome = run_as(other, command);
    EXPECT_TRUE(other_outcome.denied())
        << command << " as another user: " << other_outcome.status << " " << other_outcome.output;
  }
  EXPECT_EQ(run_as(granted, "cat " + at("scan.dcm/fields/Modality")).output, "MR\n");
  // Directories of a view get search permission where read is granted; files stay read-only.
  std::string user = "user:" + std::to_string(granted.uid()) + ":";
  EXPECT_NE(getfacl(mnt_ / "scan.dcm").find(user + "r-x"), std::string::npos);
  EXPECT_NE(getfacl(mnt_ / "scan.dcm/fields").find(user + "r-x"), std::string::npos);
  EXPECT_NE(getfacl(mnt_ / "scan.dcm/metadata.txt").find(user + "r--"), std::string::npos);
}

TEST_F(AclTest, ACachedAclIsDroppedWhenTheSourceAclChanges) {
  TestUser user("c");
  // Long timeouts: only the daemon's invalidation can make the kernel ask again in time.
  mount_ = std::make_unique<MountRunner>(
      src_,
      std::vector<std::string>{"-o", "allow_other", "--attr-timeout", "300", "--entry-timeout",
                               "300", "--watch-timeout", "300"},
      tmp_.path() / "mnt");
  ASSERT_TRUE(mount_->mounted());
  mnt_ = mount_->mountpoint();
  const std::vector<std::string> reads = {"cat " + at("plain.txt"), "ls " + at("dir"),
                                          "cat " + at("scan.dcm/metadata.txt")};
  for (const std::string& command : reads) {
    ASSERT_EQ(run_as(user, command).status, 0) << command;
  }
  for (const char* name : {"plain.txt", "dir", "scan.dcm"}) {
    setfacl("u:" + user.name() + ":---", src_ / name);
  }
  for (const std::string& command : reads) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    Outcome outcome = run_as(user, command);
    while (!outcome.denied() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      outcome = run_as(user, command);
    }
    EXPECT_TRUE(outcome.denied()) << command << " after the ACL changed: " << outcome.output;
  }
}

TEST_F(AclTest, OnlyTheAccessAclIsServedAndPlainFilesKeepTheirPageCache) {
  TestUser user("p");
  setfacl("u:" + user.name() + ":r", src_ / "plain.txt");
  mount();
  EXPECT_EQ(xattr_names(mnt_ / "plain.txt"), std::vector<std::string>{kAclXattr});
  EXPECT_EQ(xattr_names(mnt_ / "scan.dcm/metadata.txt"), std::vector<std::string>{});
  EXPECT_EQ(xattr_names(mnt_ / "dir"), std::vector<std::string>{});
  EXPECT_EQ(xattr_names(mnt_ / ".metafs/stats.json"), std::vector<std::string>{});
  char byte;
  for (const char* name : {"user.anything", "trusted.x", "system.posix_acl_default"}) {
    errno = 0;
    EXPECT_EQ(::lgetxattr((mnt_ / "plain.txt").c_str(), name, &byte, 1), -1);
    EXPECT_EQ(errno, ENODATA) << name;
  }
  // The kernel still keeps a plain file's bytes: a second read never reaches the daemon.
  // (Reading stats.json is a read too: count what that costs first.)
  ASSERT_EQ(run_as(user, "cat " + at("plain.txt")).output, "plain bytes\n");
  auto reads = [&] { return stats_of(*mount_)["reads"].get<std::uint64_t>(); };
  std::uint64_t first = reads();
  std::uint64_t stats_cost = reads() - first;
  std::uint64_t before = reads();
  ASSERT_EQ(run_as(user, "cat " + at("plain.txt")).output, "plain bytes\n");
  EXPECT_EQ(reads() - before, stats_cost);
}

}  // namespace
