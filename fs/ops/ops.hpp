#pragma once

#include "filesystem.hpp"

namespace metafs::fs {

// The low-level operations table, filled in ops_table.cpp; each op lives in op_<name>.cpp.
const fuse_lowlevel_ops& operations();

void op_init(void* userdata, fuse_conn_info* conn);
void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name);
// forget, forget_multi and releasedir take no checked() (no error reply is possible): they
// are noexcept, through checked_no_reply or because nothing in them throws.
void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) noexcept;
void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) noexcept;
void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void op_readlink(fuse_req_t req, fuse_ino_t ino);
void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi);
void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi);
void op_releasedir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) noexcept;
void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi);
void op_statfs(fuse_req_t req, fuse_ino_t ino);
// Only the access ACL, which the kernel enforces (FUSE_CAP_POSIX_ACL).
void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size);
void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);

// A mirrored file is opened beneath SOURCE with the caller's credentials and read only through
// that descriptor (fi->fh) until release; other files are served from memory.
void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
void op_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);
// Answered with ENOSYS so the kernel stops asking.
void op_flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi);

// Every write-type operation: EROFS.
void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi);
void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev);
void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode);
void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name);
void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name);
void op_symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name);
void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
               const char* newname, unsigned int flags);
void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char* newname);
void op_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
              fuse_file_info* fi);
void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
               fuse_file_info* fi);
void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
                 int flags);
void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char* name);
void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
                  fuse_file_info* fi);

}  // namespace metafs::fs
