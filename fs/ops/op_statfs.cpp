#include "ops/checked_reply.hpp"
#include "ops/ops.hpp"

namespace metafs::fs {

void op_statfs(fuse_req_t req, fuse_ino_t) {
  checked(req, "statfs", [&] {
    struct statvfs st {};
    if (int err = filesystem_of(req).statfs(&st)) {
      fuse_reply_err(req, err);
    } else {
      st.f_flag |= ST_RDONLY;
      fuse_reply_statfs(req, &st);
    }
  });
}

}  // namespace metafs::fs
