#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "source_filesystem.hpp"

namespace metafs::fs {
namespace {

TEST(SourceFilesystem, NetworkClusterAndFuseTypesAreNotWatched) {
  // statfs f_type of NFS, SMB2, CIFS, Lustre, GPFS, FUSE, Ceph, 9p, AFS, BeeGFS.
  for (long magic : {0x6969L, 0xFE534D42L, 0xFF534D42L, 0x0BD00BD0L, 0x47504653L, 0x65735546L,
                     0x00C36400L, 0x01021997L, 0x5346414FL, 0x19830326L}) {
    EXPECT_FALSE(classify_filesystem(magic).inotify_sees_all_changes) << std::hex << magic;
  }
  EXPECT_EQ(classify_filesystem(0x6969).name, "nfs");
  EXPECT_EQ(classify_filesystem(0x65735546).name, "fuse");
}

TEST(SourceFilesystem, LocalAndUnknownTypesAreWatched) {
  for (long magic : {0xEF53L, 0x58465342L, 0x9123683EL, 0x01021994L, 0x2FC12FC1L}) {
    EXPECT_TRUE(classify_filesystem(magic).inotify_sees_all_changes) << std::hex << magic;
  }
  EXPECT_EQ(classify_filesystem(0xEF53).name, "ext4");
  SourceFilesystem unknown = classify_filesystem(0x12345678);
  EXPECT_TRUE(unknown.inotify_sees_all_changes);
  EXPECT_EQ(unknown.name, "0x12345678");
}

TEST(SourceFilesystem, ADescriptorThatCannotBeAskedIsNotTrusted) {
  EXPECT_FALSE(filesystem_of_descriptor(-1).inotify_sees_all_changes);
  int fd = ::open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(filesystem_of_descriptor(fd).name, "0x9fa0");  // procfs: unknown here, local
  ::close(fd);
}

}  // namespace
}  // namespace metafs::fs
