// Plain files whose size says 0 but that hold bytes (procfs and sysfs files bind-mounted into
// SOURCE) read to end of file through the mount, as they do in the source.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "corpus.hpp"
#include "mount_runner.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::TempDir;

namespace {

// Unmounts the bind mount however the test ends.
class BindMount {
 public:
  BindMount(const fs::path& from, const fs::path& to) : to_(to) {
    std::ofstream(to).flush();
    ok_ = ::mount(from.c_str(), to.c_str(), nullptr, MS_BIND, nullptr) == 0;
  }
  ~BindMount() {
    if (ok_) ::umount2(to_.c_str(), MNT_DETACH);
  }
  BindMount(const BindMount&) = delete;
  BindMount& operator=(const BindMount&) = delete;
  bool ok() const { return ok_; }

 private:
  fs::path to_;
  bool ok_ = false;
};

TEST(ZeroSizeFiles, AProcFileBoundIntoSourceReadsToItsEnd) {
  TempDir tmp;
  fs::path src = tmp.path() / "src";
  fs::create_directories(src);
  std::ofstream(src / "empty.txt").flush();  // a truly empty file stays empty
  BindMount bound("/proc/self/mountinfo", src / "mountinfo");
  ASSERT_TRUE(bound.ok()) << "bind mount of a procfs file failed (the tests run as root)";
  struct stat st {};
  ASSERT_EQ(::stat((src / "mountinfo").c_str(), &st), 0);
  ASSERT_EQ(st.st_size, 0);  // the point of the test: size 0, yet it holds bytes
  ASSERT_FALSE(read_file(src / "mountinfo").empty());

  MountRunner mount(src);
  ASSERT_TRUE(mount.mounted()) << mount.log();
  // The daemon's own mountinfo, read through the mount: its lines, not an empty file.
  std::string through = read_file(mount.mountpoint() / "mountinfo");
  EXPECT_NE(through.find(" / "), std::string::npos) << through;
  EXPECT_GT(through.size(), 100u);
  EXPECT_EQ(read_file(mount.mountpoint() / "empty.txt"), "");
}

}  // namespace
