#include <memory>
#include <type_traits>

#include "caller_credentials.hpp"
#include "ops/checked_reply.hpp"
#include "ops/ops.hpp"

namespace metafs::fs {
namespace {

DirListing* listing_of(fuse_file_info* fi) {
  return reinterpret_cast<DirListing*>(fi->fh);
}

// Serves entries from `offset` (an index + 1) until the buffer is full. With `plus`, each
// entry is looked up (one lookup count handed to the kernel per entry it accepts).
void serve(fuse_req_t req, size_t size, off_t offset, fuse_file_info* fi, bool plus) {
  Filesystem& fs = filesystem_of(req);
  ++fs.stats().readdir_replies;
  DirListing& listing = *listing_of(fi);
  // Entries of a listing made for this caller (query directories answer by who asks).
  RequestScope scope(req, true);
  DirListing::Pin pin;  // the view this request's lookups share, if any
  if (int err = listing.complete(&pin)) {
    fuse_reply_err(req, err);
    return;
  }
  std::string buffer(size, '\0');
  size_t used = 0;
  for (auto i = static_cast<size_t>(std::max<off_t>(offset, 0)); i < listing.entries.size(); ++i) {
    const DirListing::Entry& e = listing.entries[i];
    auto next = static_cast<off_t>(i + 1);
    size_t need;
    if (plus) {
      fuse_entry_param entry{};
      bool dot = e.name == "." || e.name == "..";
      if (dot) {
        entry.attr.st_ino = e.ino_hint;
        entry.attr.st_mode = e.type;
      } else if ((listing.lookup_listed ? fs.lookup_listed(listing, e, &entry, &pin)
                                        : fs.lookup(listing.ino, e.name, &entry)) != 0) {
        continue;  // vanished since opendir
      }
      need = fuse_add_direntry_plus(req, buffer.data() + used, size - used, e.name.c_str(), &entry,
                                    next);
      if (need > size - used) {
        if (!dot && entry.ino != 0) fs.forget(entry.ino, 1);
        break;
      }
    } else {
      struct stat st {};
      st.st_ino = e.ino_hint;
      st.st_mode = e.type;
      need = fuse_add_direntry(req, buffer.data() + used, size - used, e.name.c_str(), &st, next);
      if (need > size - used) break;
    }
    used += need;
  }
  fuse_reply_buf(req, buffer.data(), used);
}

}  // namespace

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  checked(req, "opendir", [&] {
    std::unique_ptr<DirListing> listing;
    if (int err = filesystem_of(req).opendir(
            ino, [req] { return caller_of(req); }, &listing)) {
      fuse_reply_err(req, err);
      return;
    }
    fi->fh = reinterpret_cast<uint64_t>(listing.get());
    // The kernel answers later readdirs from its cache, until it drops it (an invalidation).
    if (listing->cacheable) {
      fi->cache_readdir = 1;
      fi->keep_cache = 1;
    }
    if (fuse_reply_open(req, fi) == 0) listing.release();
  });
}

void op_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  checked(req, "readdir", [&] { serve(req, size, offset, fi, false); });
}

void op_readdirplus(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  checked(req, "readdirplus", [&] { serve(req, size, offset, fi, true); });
}

// Needs no boundary: deleting a listing and replying throw nothing.
void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) noexcept {
  static_assert(std::is_nothrow_destructible_v<DirListing>);
  delete listing_of(fi);
  fuse_reply_err(req, 0);
}

}  // namespace metafs::fs
