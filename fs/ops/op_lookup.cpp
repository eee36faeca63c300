#include "caller_credentials.hpp"
#include "ops/checked_reply.hpp"
#include "ops/ops.hpp"

namespace metafs::fs {

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  checked(req, "lookup", [&] {
    fuse_entry_param entry{};
    RequestScope scope(req);  // a few answers depend on who asks
    int err = filesystem_of(req).lookup(parent, name, &entry);
    if (err == ENOENT) {
      // ino 0 with a timeout: the kernel caches the miss.
      fuse_entry_param negative{};
      negative.entry_timeout = filesystem_of(req).options().entry_timeout;
      fuse_reply_entry(req, &negative);
    } else if (err != 0) {
      fuse_reply_err(req, err);
    } else if (fuse_reply_entry(req, &entry) == -ENOENT) {
      // The request was interrupted: the kernel never saw the entry.
      filesystem_of(req).forget(entry.ino, 1);
    }
  });
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) noexcept {
  checked_no_reply("forget", [&] { filesystem_of(req).forget(ino, nlookup); });
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, fuse_forget_data* forgets) noexcept {
  // One boundary per inode: a forget that throws does not keep the others' counts.
  for (size_t i = 0; i < count; ++i) {
    checked_no_reply("forget_multi",
                     [&] { filesystem_of(req).forget(forgets[i].ino, forgets[i].nlookup); });
  }
  fuse_reply_none(req);
}

}  // namespace metafs::fs
