// Mirrored paths: directories, symlinks and plain files of SOURCE, and data files shown as
// directories of their view.
#include <dirent.h>

#include <cerrno>

#include "extraction/dir_stream.hpp"
#include "filesystem.hpp"

namespace metafs::fs {
namespace {

mode_t dirent_type(unsigned char d_type) {
  switch (d_type) {
    case DT_DIR:
      return S_IFDIR;
    case DT_REG:
      return S_IFREG;
    case DT_LNK:
      return S_IFLNK;
    case DT_FIFO:
      return S_IFIFO;
    case DT_SOCK:
      return S_IFSOCK;
    case DT_CHR:
      return S_IFCHR;
    case DT_BLK:
      return S_IFBLK;
    default:
      return 0;
  }
}

// A source directory's entries, read through the descriptor opendir opened as the caller.
class SourceEntriesReader final : public DirListing::Reader {
 public:
  // Takes over `fd`; see error().
  SourceEntriesReader(extract::FileDescriptor fd, bool root)
      : stream_(std::move(fd)), root_(root) {}

  // 0, or why the descriptor cannot be read as a directory.
  int error() const { return stream_.ok() ? 0 : stream_.error(); }

  int read(std::vector<DirListing::Entry>* entries) override {
    if (root_) entries->push_back({kControlDirName, InodeTable::kControlDirIno, S_IFDIR});
    DIR* dir = stream_.get();
    errno = 0;
    while (struct dirent* d = ::readdir(dir)) {
      std::string name = d->d_name;
      if (name == "." || name == "..") continue;
      if (root_ && name == kControlDirName) continue;
      mode_t type = dirent_type(d->d_type);
      // A regular file may be shown as a directory: leave the type to stat.
      if (type == S_IFREG) type = 0;
      entries->push_back({std::move(name), d->d_ino, type});
    }
    return errno;
  }

 private:
  extraction::DirStream stream_;
  bool root_;
};

}  // namespace

class MirrorNodes final : public NodeKind {
 public:
  using NodeKind::NodeKind;

  int lookup(const Node& dir, const std::string& name, fuse_entry_param* entry) override {
    if (dir.ino == InodeTable::kRootIno && name == kControlDirName) {
      if (int err = fs_.getattr(InodeTable::kControlDirIno, &entry->attr, &entry->attr_timeout)) {
        return err;
      }
      entry->ino = InodeTable::kControlDirIno;
      entry->entry_timeout = kSnapshotTimeout;
      return 0;
    }
    struct stat st {};
    if (int rc = fs_.source_.lstat(dir.rel_path, &st); rc < 0) return -rc;
    if (S_ISDIR(st.st_mode)) {
      return fs_.lookup_mirror(dir.rel_path, extraction::join_relative(dir.rel_path, name), entry);
    }
    if (!dir.shows(st)) return ESTALE;  // another file has this data file's name now
    std::shared_ptr<const extraction::DataVersion> version;
    std::shared_ptr<const extraction::DataView> view;
    if (int err = fs_.data_view(dir.rel_path, st, &version, &view)) return err;
    extraction::DataView::EntryId id = view->find(extraction::DataView::kRootEntry, name);
    if (id == extraction::DataView::kNoEntry) return ENOENT;
    return fs_.lookup_virtual(version, *view, id, entry_timeout(*view, dir.rel_path), entry);
  }

  // The names of data file `rel`'s directory lead to the current version's view: they are
  // invalidated when the file changes, if its directory is watched. A view that is not the
  // file's verdict (a passing failure) is asked for again on every lookup, so that its retry
  // is seen.
  double entry_timeout(const extraction::DataView& view, const std::string& rel) const {
    return view.extraction().verdict == extract::Extraction::Verdict::kFinal
               ? fs_.mirror_timeout(std::string(extraction::split_relative(rel).dir))
               : 0;
  }

  int getattr(const Node& node, struct stat* st, double* timeout) override {
    extract::Format format;
    if (int err = fs_.mirror_attributes(node.rel_path, st, &format)) return err;
    node.show(*st);
    st->st_ino = node.ino;
    *timeout = fs_.attr_timeout_of(node.rel_path, *st, format);
    return 0;
  }

  int readlink(const Node& node, std::string* target) override {
    int rc = fs_.source_.readlink(node.rel_path, target);
    return rc < 0 ? -rc : 0;
  }

  int opendir(const Node& node, const std::function<Caller()>& caller,
              DirListing* listing) override {
    struct stat st {};
    if (int rc = fs_.source_.lstat(node.rel_path, &st); rc < 0) return -rc;
    if (!S_ISDIR(st.st_mode)) {
      if (!node.shows(st)) return ESTALE;  // another file has this data file's name now
      std::shared_ptr<const extraction::DataVersion> version;
      std::shared_ptr<const extraction::DataView> view;
      const std::string_view unlisted =
          fs_.options_.fields_visible ? "" : extraction::DataView::kFieldsName;
      // The current version's names, dropped with the data file's inode when it changes (as
      // its names are); a passing failure is listed again, so that its retry is seen.
      const bool watched =
          fs_.invalidator_.watched(std::string(extraction::split_relative(node.rel_path).dir));
      // The view listed, held weakly: an open directory does not keep its view in memory
      // (updatedb opens hundreds of directories before it reads them); one that left memory
      // is found again through the version, and its names are checked against the listing's.
      auto listed = std::make_shared<std::weak_ptr<const extraction::DataView>>();
      if (watched && fs_.final_data_version(node.rel_path, st, &version)) {
        // A listing the kernel may keep and may have: the view is found only if it asks for
        // the entries (a second `find` decodes no view that did not stay in memory).
        listing->cacheable = true;
      } else {
        if (int err = fs_.data_view(node.rel_path, st, &version, &view)) return err;
        listing->cacheable =
            watched && view->extraction().verdict == extract::Extraction::Verdict::kFinal;
        *listed = view;
      }
      listing->reader = view_entries_reader(
          [this, version, listed,
           cacheable = listing->cacheable](std::shared_ptr<const extraction::DataView>* found) {
            if ((*found = listed->lock())) return 0;
            if (int err = fs_.data_view_of(*version, found)) return err;
            // Extracted again and not the verdict (a passing failure): this listing may be
            // kept by the kernel, so it shows none; the next opendir lists it uncached.
            if (cacheable &&
                (*found)->extraction().verdict != extract::Extraction::Verdict::kFinal) {
              return EAGAIN;
            }
            *listed = *found;
            return 0;
          },
          extraction::DataView::kRootEntry, unlisted);
      // readdirplus: each entry as lookup() finds it at this version, from the view listed,
      // unless the source changed since (a notification went out) or the view found again
      // does not have the entry listed: then by name, as lookup() finds it now.
      listing->lookup_listed = [this, version, listed, dir = node.rel_path,
                                seen = fs_.invalidator_.notifications()](const DirListing::Entry& e,
                                                                         fuse_entry_param* entry,
                                                                         DirListing::Pin* pin) {
        if (fs_.invalidator_.notifications() != seen) return DirListing::kLookUpByName;
        // The request's view, else the one listed if still in memory, else found again once
        // for the rest of the request.
        std::shared_ptr<const extraction::DataView> shown;
        extraction::DataView::EntryId id = extraction::DataView::kNoEntry;
        const ViewFinder find = [&](std::shared_ptr<const extraction::DataView>* found) {
          if ((*found = listed->lock())) return 0;
          return fs_.data_view_of(*version, found);
        };
        if (listed_view_entry(pin, find, extraction::DataView::kRootEntry, e, &shown, &id) != 0 ||
            id == extraction::DataView::kNoEntry) {
          return DirListing::kLookUpByName;
        }
        return fs_.lookup_virtual(version, *shown, id, entry_timeout(*shown, dir), entry);
      };
      return 0;
    }
    extract::FileDescriptor fd;
    {
      AsCaller as(caller());  // the listing is read with the caller's rights, as it is shown
      if (!as.ok()) return EACCES;
      fd = fs_.source_.open_dir(node.rel_path);
    }
    if (!fd.valid()) return -fd.release();
    struct stat opened {};
    if (::fstat(fd.get(), &opened) != 0 || (!node.rel_path.empty() && !node.shows(opened))) {
      return ESTALE;  // another directory has this name now
    }
    // Asked before reading: a change after this point is pushed to the kernel.
    listing->cacheable = fs_.listing_cacheable(node.rel_path);
    auto reader =
        std::make_unique<SourceEntriesReader>(std::move(fd), node.ino == InodeTable::kRootIno);
    if (int err = reader->error()) return err;
    listing->reader = std::move(reader);
    return 0;
  }

  int open(const Node& node, const std::function<Caller()>& caller, extract::FileDescriptor* fd,
           OpenedFile* opened) override {
    return fs_.open_source_file(
        node.rel_path, caller, [&](const struct stat& st) { return node.shows(st); }, fd, opened);
  }

  int open_for_read(const Node&, ReadSource*) override {
    return EBADF;  // read through the descriptor open() returned
  }

  int access_acl(const Node& node, std::string* value) override {
    struct stat st {};
    std::string acl;
    int err = fs_.read_acl(node.rel_path, &st, &acl);
    if (err != 0 && err != ENODATA) return err;
    // Another file's ACL under this node's name would pair with the old file's mode bits.
    if (!node.rel_path.empty() && !node.shows(st)) return ESTALE;
    if (err != 0) return err;
    // A data file is shown as a directory: it shows its view's ACL.
    if (S_ISREG(st.st_mode) && fs_.service_->detect(node.rel_path, st) != extract::Format::kNone) {
      return fs_.derive_acl(node.rel_path, acl, true, value);
    }
    *value = std::move(acl);
    return 0;
  }
};

std::unique_ptr<NodeKind> make_mirror_nodes(Filesystem& fs) {
  return std::make_unique<MirrorNodes>(fs);
}

}  // namespace metafs::fs
