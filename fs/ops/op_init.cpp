#include "log.hpp"
#include "ops/ops.hpp"

namespace metafs::fs {

void op_init(void* userdata, fuse_conn_info* conn) {
  (void)userdata;
  auto want = [&](unsigned capability, const char* name) {
    if (conn->capable & capability) {
      conn->want |= capability;
    } else {
      log::fs()->info("kernel lacks {}", name);
    }
  };
  want(FUSE_CAP_READDIRPLUS, "readdirplus");
  want(FUSE_CAP_READDIRPLUS_AUTO, "readdirplus_auto");
  // A changed source file (new mtime or size) drops its pages from the kernel cache.
  want(FUSE_CAP_AUTO_INVAL_DATA, "auto_inval_data");
  want(FUSE_CAP_PARALLEL_DIROPS, "parallel_dirops");
  want(FUSE_CAP_CACHE_SYMLINKS, "cache_symlinks");
  // A mirrored file's bytes (and a data file's original) go from its descriptor to the kernel
  // through a pipe (splice), never through a buffer of the daemon.
  want(FUSE_CAP_SPLICE_WRITE, "splice_write");
  // The kernel enforces ACLs (read through getxattr) along with the mode bits. Without it,
  // default_permissions checks the mode bits alone and an ACL's denials in SOURCE are lost.
  if (conn->capable & FUSE_CAP_POSIX_ACL) {
    conn->want |= FUSE_CAP_POSIX_ACL;
  } else {
    log::fs()->warn("kernel lacks FUSE posix_acl: ACLs in SOURCE are not enforced");
  }
  // No FUSE_CAP_NO_OPEN_SUPPORT: a mirrored file must be opened once, as the caller, and read
  // through that descriptor (reading by name on every read would follow the name to whatever
  // file has it by then).
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_WRITEBACK_CACHE);
  conn->max_readahead = std::max(conn->max_readahead, 128u * 1024u);
  log::fs()->debug("FUSE protocol {}.{}, capable {:#x}, want {:#x}", conn->proto_major,
                   conn->proto_minor, conn->capable, conn->want);
}

}  // namespace metafs::fs
