#include "ops/checked_reply.hpp"
#include "ops/ops.hpp"

namespace metafs::fs {

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  checked(req, "readlink", [&] {
    std::string target;
    if (int err = filesystem_of(req).readlink(ino, &target)) {
      fuse_reply_err(req, err);
    } else {
      fuse_reply_readlink(req, target.c_str());
    }
  });
}

}  // namespace metafs::fs
