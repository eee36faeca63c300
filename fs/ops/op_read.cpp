#include <unistd.h>

#include <algorithm>

#include "ops/checked_reply.hpp"
#include "ops/ops.hpp"

namespace metafs::fs {

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t offset, fuse_file_info* fi) {
  checked(req, "read", [&] {
    if (fi->fh != 0) {
      // A mirrored file or a data file's original: the descriptor opened for this caller.
      // libfuse splices the bytes from it into the reply (FUSE_CAP_SPLICE_WRITE), so they are
      // not copied through the daemon's memory; libfuse 3.14 (Debian 12) has no FUSE
      // passthrough (3.16 and Linux 6.9), which would skip the daemon altogether.
      fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
      buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
      buf.buf[0].fd = static_cast<int>(fi->fh - 1);
      buf.buf[0].pos = offset;
      fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
      return;
    }
    ReadSource source;
    if (int err = filesystem_of(req).open_for_read(ino, &source)) {
      fuse_reply_err(req, err);
      return;
    }
    const std::string& bytes = *source.bytes;
    auto start = std::min(static_cast<size_t>(std::max<off_t>(offset, 0)), bytes.size());
    size_t count = std::min(size, bytes.size() - start);
    fuse_reply_buf(req, bytes.data() + start, count);
  });
}

}  // namespace metafs::fs
