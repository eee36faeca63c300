#include "ops/checked_reply.hpp"
#include "ops/ops.hpp"

namespace metafs::fs {

void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  checked(req, "listxattr", [&] {
    std::string names;
    if (int err = filesystem_of(req).listxattr(ino, &names)) {
      fuse_reply_err(req, err);
    } else if (size == 0) {
      fuse_reply_xattr(req, names.size());
    } else if (size < names.size()) {
      fuse_reply_err(req, ERANGE);
    } else {
      fuse_reply_buf(req, names.data(), names.size());
    }
  });
}

}  // namespace metafs::fs
