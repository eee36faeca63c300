#include "ops/ops.hpp"

namespace metafs::fs {

// ENOSYS is remembered by the kernel: it never sends these again for this mount.

void op_flush(fuse_req_t req, fuse_ino_t, fuse_file_info*) {
  fuse_reply_err(req, ENOSYS);
}

}  // namespace metafs::fs
