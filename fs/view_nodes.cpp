// Entries of a data file's view: immutable, so the kernel may cache them for long; looked up
// through the version the inode holds (ExtractionService::held_view: ESTALE once it is gone).
#include "extraction/file_version.hpp"
#include "filesystem.hpp"

namespace metafs::fs {

void add_view_entries(const extraction::DataView& view, extraction::DataView::EntryId dir,
                      DirListing* listing, std::string_view unlisted) {
  for (extraction::DataView::EntryId child : view.children(dir)) {
    if (!unlisted.empty() && view.name(child) == unlisted) continue;
    mode_t type = view.type(child) == extraction::DataView::EntryType::kDirectory ? S_IFDIR
                  : view.type(child) == extraction::DataView::EntryType::kLink    ? S_IFLNK
                                                                                  : S_IFREG;
    listing->entries.push_back({view.name(child), InodeTable::kFirstDynamicIno + child, type});
  }
}

class ViewNodes final : public NodeKind {
 public:
  using NodeKind::NodeKind;

  int lookup(const Node& dir, const std::string& name, fuse_entry_param* entry) override {
    std::shared_ptr<const extraction::DataView> view;
    if (int err = fs_.view_of(dir, &view)) return err;
    extraction::DataView::EntryId id = view->find(dir.entry, name);
    if (id == extraction::DataView::kNoEntry) return ENOENT;
    // Inside one version's immutable view: names never change.
    return fs_.lookup_virtual(dir.version, *view, id, kSnapshotTimeout, entry);
  }

  int getattr(const Node& node, struct stat* st, double* timeout) override {
    std::shared_ptr<const extraction::DataView> view;
    if (int err = fs_.view_of(node, &view)) return err;
    *st = view->attributes(node.entry);
    st->st_ino = node.ino;
    *timeout = kSnapshotTimeout;
    return 0;
  }

  int readlink(const Node& node, std::string* target) override {
    std::shared_ptr<const extraction::DataView> view;
    if (int err = fs_.view_of(node, &view)) return err;
    if (view->type(node.entry) != extraction::DataView::EntryType::kLink) return EINVAL;
    *target = *view->content(node.entry);
    return 0;
  }

  int opendir(const Node& node, const Caller&, DirListing* listing) override {
    std::shared_ptr<const extraction::DataView> view;
    if (int err = fs_.view_of(node, &view)) return err;
    if (view->type(node.entry) != extraction::DataView::EntryType::kDirectory) return ENOTDIR;
    add_view_entries(*view, node.entry, listing);
    listing->immutable = true;
    return 0;
  }

  int open(const Node& node, const std::function<Caller()>& caller, extract::FileDescriptor* fd,
           OpenedFile* opened) override {
    std::shared_ptr<const extraction::DataView> view;
    if (int err = fs_.view_of(node, &view)) return err;
    if (view->type(node.entry) != extraction::DataView::EntryType::kFile) return EISDIR;
    if (view->is_original(node.entry)) {
      // The data file itself, opened as a mirrored plain file is (as the caller, beneath
      // SOURCE); it must still be this node's version, whose size and times the kernel was
      // shown: else ESTALE, and the kernel looks the name up again (the new version's inode).
      const extraction::DataVersion& version = *node.version;
      return fs_.open_source_file(
          version.rel, caller,
          [&](const struct stat& st) {
            return st.st_dev == version.st.st_dev && st.st_ino == version.st.st_ino &&
                   extraction::same_version(version.st, st);
          },
          fd, opened);
    }
    opened->keep_cache = true;  // a view never changes under its inode
    return 0;
  }

  int open_for_read(const Node& node, ReadSource* source) override {
    std::shared_ptr<const extraction::DataView> view;
    if (int err = fs_.view_of(node, &view)) return err;
    if (view->type(node.entry) != extraction::DataView::EntryType::kFile) return EISDIR;
    if (view->is_original(node.entry)) return EBADF;  // read through the descriptor open() gave
    source->bytes = view->content(node.entry);
    return 0;
  }

  int access_acl(const Node& node, std::string* value) override {
    std::shared_ptr<const extraction::DataView> view;
    if (int err = fs_.view_of(node, &view)) return err;
    extraction::DataView::EntryType type = view->type(node.entry);
    if (type == extraction::DataView::EntryType::kLink) return ENODATA;
    const extraction::DataVersion& version = *node.version;
    struct stat st {};
    std::string acl;
    int err = fs_.read_acl(version.rel, &st, &acl);
    if (err != 0 && err != ENODATA) return err;
    // A changed ACL is a new version of the same file, but another file under the same name
    // has no say over this one's views.
    if (st.st_dev != version.st.st_dev || st.st_ino != version.st.st_ino) return ESTALE;
    if (err != 0) return err;
    // The original is the file itself: its own ACL, as a mirrored plain file shows it.
    if (view->is_original(node.entry)) {
      *value = std::move(acl);
      return 0;
    }
    return fs_.derive_acl(version.rel, acl, type == extraction::DataView::EntryType::kDirectory,
                          value);
  }
};

std::unique_ptr<NodeKind> make_view_nodes(Filesystem& fs) {
  return std::make_unique<ViewNodes>(fs);
}

}  // namespace metafs::fs
