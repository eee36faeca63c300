// SourceTree::xattr reads an ACL beneath SOURCE without following symlinks, whatever its size.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "corpus.hpp"
#include "extraction/source_tree.hpp"
#include "posix_acl.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using metafs::extraction::SourceTree;
using metafs::fs::kAclAccessXattr;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;
using metafs::test::write_file;

namespace {

std::string native_acl(const fs::path& path) {
  std::string value(65536, '\0');
  ssize_t n = ::lgetxattr(path.c_str(), kAclAccessXattr, value.data(), value.size());
  EXPECT_GE(n, 0) << path;
  value.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return value;
}

void setfacl(const std::string& spec, const fs::path& path) {
  int status = 0;
  std::string out = run_command(
      "setfacl -m " + shell_quote(spec) + " " + shell_quote(path.string()) + " 2>&1", &status);
  ASSERT_EQ(status, 0) << out;
}

}  // namespace

TEST(SourceTreeXattr, ReadsTheAclOfFilesAndDirectoriesOfAnySize) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "dir");
  write_file(tmp.path() / "small", "x");
  write_file(tmp.path() / "dir" / "large", "x");
  write_file(tmp.path() / "none", "x");
  setfacl("u:12345:r", tmp.path() / "small");
  setfacl("g:12345:rx", tmp.path() / "dir");
  // 100 named users: past the first read's buffer.
  std::string spec;
  for (int uid = 20000; uid < 20100; ++uid)
    spec += (spec.empty() ? "" : ",") + ("u:" + std::to_string(uid) + ":r");
  setfacl(spec, tmp.path() / "dir" / "large");

  SourceTree tree(tmp.path());
  struct stat st {};
  std::string value;
  for (const char* rel : {"small", "dir", "dir/large"}) {
    ASSERT_EQ(tree.xattr(rel, kAclAccessXattr, &st, &value), 0) << rel;
    EXPECT_EQ(value, native_acl(tmp.path() / rel)) << rel;
  }
  EXPECT_GT(value.size(), 800u);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(tree.xattr("none", kAclAccessXattr, &st, &value), -ENODATA);
  EXPECT_EQ(tree.xattr("", kAclAccessXattr, &st, &value), -ENODATA);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST(SourceTreeXattr, NeverFollowsASymlink) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "src");
  fs::create_directories(tmp.path() / "outside");
  setfacl("u:12345:r", tmp.path() / "outside");
  fs::create_symlink(tmp.path() / "outside", tmp.path() / "src" / "link");
  SourceTree tree(tmp.path() / "src");
  struct stat st {};
  std::string value;
  EXPECT_EQ(tree.xattr("link", kAclAccessXattr, &st, &value), -ENODATA);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_LT(tree.xattr("link/anything", kAclAccessXattr, &st, &value), 0);
  EXPECT_NE(tree.xattr("link/anything", kAclAccessXattr, &st, &value), -ENODATA);
}
