#include <unistd.h>

#include "caller_credentials.hpp"
#include "ops/checked_reply.hpp"
#include "ops/ops.hpp"

namespace metafs::fs {

// fi->fh holds a mirrored file's descriptor + 1 (0: a file served from memory).
void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  checked(req, "open", [&] {
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
      fuse_reply_err(req, EROFS);
      return;
    }
    extract::FileDescriptor fd;
    OpenedFile opened;
    if (int err = filesystem_of(req).open(
            ino, [req] { return caller_of(req); }, &fd, &opened)) {
      fuse_reply_err(req, err);
      return;
    }
    fi->keep_cache = opened.keep_cache ? 1 : 0;
    fi->direct_io = opened.direct_io ? 1 : 0;
    fi->fh = fd.valid() ? static_cast<std::uint64_t>(fd.get()) + 1 : 0;
    if (fuse_reply_open(req, fi) == 0) fd.release();
  });
}

void op_release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  if (fi->fh != 0) ::close(static_cast<int>(fi->fh - 1));
  fuse_reply_err(req, 0);
}

}  // namespace metafs::fs
