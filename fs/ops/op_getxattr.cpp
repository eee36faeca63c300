#include "ops/checked_reply.hpp"
#include "ops/ops.hpp"

namespace metafs::fs {

// Never ENOSYS: the kernel would remember it and take every file as having no ACL, so
// default_permissions would check the mode bits alone.
void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  checked(req, "getxattr", [&] {
    std::string value;
    if (int err = filesystem_of(req).getxattr(ino, name, &value)) {
      fuse_reply_err(req, err);
    } else if (size == 0) {
      fuse_reply_xattr(req, value.size());
    } else if (size < value.size()) {
      fuse_reply_err(req, ERANGE);
    } else {
      fuse_reply_buf(req, value.data(), value.size());
    }
  });
}

}  // namespace metafs::fs
