#include "ops/checked_reply.hpp"
#include "ops/ops.hpp"

namespace metafs::fs {

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  checked(req, "getattr", [&] {
    struct stat st {};
    double timeout = 0;
    if (int err = filesystem_of(req).getattr(ino, &st, &timeout)) {
      fuse_reply_err(req, err);
    } else {
      fuse_reply_attr(req, &st, timeout);
    }
  });
}

}  // namespace metafs::fs
