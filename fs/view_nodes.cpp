// Entries of a data file's view: immutable, so the kernel may cache them for long; looked up
// through the version the inode holds (ExtractionService::held_view: ESTALE once it is gone).
#include <functional>

#include "extraction/file_version.hpp"
#include "filesystem.hpp"

namespace metafs::fs {

namespace {

class ViewEntriesReader final : public DirListing::Reader {
 public:
  // The view is found (`find_view`) when the entries are read, and held only while they are:
  // a listing the kernel keeps needs none, and an open directory pins no view.
  ViewEntriesReader(ViewFinder find_view, extraction::DataView::EntryId dir,
                    std::string_view unlisted)
      : find_view_(std::move(find_view)), dir_(dir), unlisted_(unlisted) {}

  int read(std::vector<DirListing::Entry>* entries) override {
    std::shared_ptr<const extraction::DataView>& view = view_;
    if (int err = find_view_(&view)) return err;
    for (extraction::DataView::EntryId child : view->children(dir_)) {
      if (!unlisted_.empty() && view->name(child) == unlisted_) continue;
      extraction::DataView::EntryType type = view->type(child);
      mode_t mode = type == extraction::DataView::EntryType::kDirectory ? S_IFDIR
                    : type == extraction::DataView::EntryType::kLink    ? S_IFLNK
                                                                        : S_IFREG;
      entries->push_back({view->name(child), InodeTable::kFirstDynamicIno + child, mode});
    }
    return 0;
  }
  std::shared_ptr<const extraction::DataView> used() override { return view_; }

 private:
  std::shared_ptr<const extraction::DataView> view_;  // found by read(), gone with the reader
  ViewFinder find_view_;
  extraction::DataView::EntryId dir_;
  std::string_view unlisted_;  // a static name (DataView::kFieldsName) or empty
};

}  // namespace

int listed_view_entry(DirListing::Pin* pin, const ViewFinder& find,
                      extraction::DataView::EntryId dir, const DirListing::Entry& listed,
                      std::shared_ptr<const extraction::DataView>* shown,
                      extraction::DataView::EntryId* id) {
  *shown = *pin;
  if (!*shown) {
    if (int err = find(shown)) return err;
    *pin = *shown;
  }
  const extraction::DataView& view = **shown;
  *id = extraction::DataView::kNoEntry;
  if (listed.ino_hint < InodeTable::kFirstDynamicIno) return 0;
  const auto candidate =
      static_cast<extraction::DataView::EntryId>(listed.ino_hint - InodeTable::kFirstDynamicIno);
  if (candidate < view.entry_count() && view.parent(candidate) == dir &&
      view.name(candidate) == listed.name) {
    *id = candidate;
  }
  return 0;
}

std::unique_ptr<DirListing::Reader> view_entries_reader(ViewFinder find,
                                                        extraction::DataView::EntryId dir,
                                                        std::string_view unlisted) {
  return std::make_unique<ViewEntriesReader>(std::move(find), dir, unlisted);
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

  // Neither opendir nor open looks at the view: the kernel opens an inode only as the type it
  // was told (OPENDIR for a directory, OPEN for a regular file), a view entry's type never
  // changes, and a view evicted from memory must not be decoded again only to be opened when
  // the kernel keeps its listing or bytes. Reading finds the view (ESTALE once it is gone).
  // The original file is known without it too: its entry id is fixed (kOriginalEntry).
  int opendir(const Node& node, const std::function<Caller()>&, DirListing* listing) override {
    ViewFinder find = [this,
                       version = node.version](std::shared_ptr<const extraction::DataView>* view) {
      *view = fs_.service_->held_view(*version);  // as view_of() finds it
      return *view ? 0 : ESTALE;
    };
    listing->reader = std::make_unique<ViewEntriesReader>(find, node.entry, std::string_view());
    listing->cacheable = true;
    // readdirplus: each entry in the view the request read, not found again per entry (a view
    // too large to stay in memory was decoded, or extracted, once per entry of fields/).
    listing->lookup_listed = [this, find, version = node.version, dir = node.entry](
                                 const DirListing::Entry& e, fuse_entry_param* entry,
                                 DirListing::Pin* pin) {
      std::shared_ptr<const extraction::DataView> shown;
      extraction::DataView::EntryId id = extraction::DataView::kNoEntry;
      if (int err = listed_view_entry(pin, find, dir, e, &shown, &id)) return err;
      if (id == extraction::DataView::kNoEntry) return DirListing::kLookUpByName;
      return fs_.lookup_virtual(version, *shown, id, kSnapshotTimeout, entry);
    };
    return 0;
  }

  int open(const Node& node, const std::function<Caller()>& caller, extract::FileDescriptor* fd,
           OpenedFile* opened) override {
    if (node.entry == extraction::DataView::kOriginalEntry) {
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
