#include "source_filesystem.hpp"

#include <sys/vfs.h>

#include <cstdint>
#include <cstdio>

namespace metafs::fs {
namespace {

struct KnownType {
  std::uint32_t magic;
  const char* name;
  bool inotify_sees_all_changes;
};

// From linux/magic.h and the out-of-tree filesystems' sources (Lustre, GPFS, BeeGFS, ...):
// every type where another machine or another process's backing store may change files.
constexpr KnownType kTypes[] = {
    {0x6969, "nfs", false},         {0xFF534D42, "cifs", false},     {0xFE534D42, "smb2", false},
    {0x517B, "smbfs", false},       {0x0BD00BD0, "lustre", false},   {0x47504653, "gpfs", false},
    {0x65735546, "fuse", false},  // also fuseblk and virtiofs
    {0x00C36400, "ceph", false},    {0x01021997, "9p", false},       {0x5346414F, "afs", false},
    {0x6B414653, "kafs", false},    {0x73757245, "coda", false},     {0x564C, "ncp", false},
    {0x19830326, "beegfs", false},  {0x20030528, "orangefs", false}, {0xAAD7AAEA, "panfs", false},
    {0x01161970, "gfs2", false},    {0x7461636F, "ocfs2", false},    {0x786F4256, "vboxsf", false},
    {0x013111A8, "ibrix", false},   {0xEF53, "ext4", true},  // ext2/3/4 share it
    {0x58465342, "xfs", true},      {0x9123683E, "btrfs", true},     {0x2FC12FC1, "zfs", true},
    {0x01021994, "tmpfs", true},    {0x794C7630, "overlayfs", true}, {0xF2F52010, "f2fs", true},
    {0x2011BAB0, "exfat", true},    {0x4D44, "vfat", true},          {0x5346544E, "ntfs", true},
    {0x7366746E, "ntfs3", true},    {0x3153464A, "jfs", true},       {0x52654973, "reiserfs", true},
    {0xCA451A4E, "bcachefs", true}, {0x73717368, "squashfs", true},  {0x9660, "iso9660", true},
    {0xE0F5E1E2, "erofs", true},
};

}  // namespace

SourceFilesystem classify_filesystem(long f_type) {
  auto magic = static_cast<std::uint32_t>(f_type);
  for (const KnownType& type : kTypes) {
    if (type.magic == magic) return {type.name, type.inotify_sees_all_changes};
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "%#x", magic);
  return {hex, true};
}

SourceFilesystem filesystem_of_descriptor(int fd) {
  struct statfs st {};
  if (::fstatfs(fd, &st) != 0) return {"unknown", false};
  return classify_filesystem(static_cast<long>(st.f_type));
}

}  // namespace metafs::fs
