// /.metafs and the files in it (ControlFiles renders them).
#include <unistd.h>

#include "filesystem.hpp"

namespace metafs::fs {

class ControlDirNode final : public NodeKind {
 public:
  using NodeKind::NodeKind;

  int lookup(const Node&, const std::string& name, fuse_entry_param* entry) override {
    if (name == kQueryDirName || name == kErrorsFileName) {
      return fs_.lookup_query_node(
          name == kQueryDirName ? Node::QueryRole::kRoot : Node::QueryRole::kErrors, entry);
    }
    ControlFile file;
    if (!ControlFiles::from_name(name, &file)) return ENOENT;
    fuse_ino_t ino = InodeTable::kFirstControlFileIno + static_cast<fuse_ino_t>(file);
    entry->attr = fs_.control_.refresh(file);
    entry->attr.st_ino = ino;
    entry->ino = ino;
    entry->attr_timeout = kSnapshotTimeout;
    entry->entry_timeout = 0;  // looked up, and so rendered, on every open
    return 0;
  }

  int getattr(const Node& node, struct stat* st, double* timeout) override {
    *st = {};
    st->st_ino = node.ino;
    st->st_mode = S_IFDIR | 0555;
    st->st_nlink = 2;
    st->st_uid = ::getuid();
    st->st_gid = ::getgid();
    st->st_mtim = st->st_ctim = st->st_atim = fs_.started_;
    *timeout = kSnapshotTimeout;
    return 0;
  }

  int readlink(const Node&, std::string*) override { return EINVAL; }

  int opendir(const Node&, const Caller&, DirListing* listing) override {
    for (ControlFile file : kControlFiles) {
      listing->entries.push_back({ControlFiles::name(file),
                                  InodeTable::kFirstControlFileIno + static_cast<fuse_ino_t>(file),
                                  S_IFREG});
    }
    listing->entries.push_back({kQueryDirName, InodeTable::kFirstDynamicIno - 1, S_IFDIR});
    listing->entries.push_back({kErrorsFileName, InodeTable::kFirstDynamicIno - 2, S_IFREG});
    return 0;
  }

  int open(const Node&, const std::function<Caller()>&, extract::FileDescriptor*,
           OpenedFile*) override {
    return EISDIR;
  }
  int open_for_read(const Node&, ReadSource*) override { return EISDIR; }
  int access_acl(const Node&, std::string*) override { return ENODATA; }
};

class ControlFileNodes final : public NodeKind {
 public:
  using NodeKind::NodeKind;

  int lookup(const Node&, const std::string&, fuse_entry_param*) override { return ENOTDIR; }

  int getattr(const Node& node, struct stat* st, double* timeout) override {
    *st = fs_.control_.attributes(node.control);
    st->st_ino = node.ino;
    *timeout = kSnapshotTimeout;
    return 0;
  }

  int readlink(const Node&, std::string*) override { return EINVAL; }
  int opendir(const Node&, const Caller&, DirListing*) override { return ENOTDIR; }

  int open(const Node&, const std::function<Caller()>&, extract::FileDescriptor*,
           OpenedFile* opened) override {
    opened->keep_cache = false;  // rendered anew on every lookup
    return 0;
  }

  int open_for_read(const Node& node, ReadSource* source) override {
    source->bytes = fs_.control_.content(node.control);
    return 0;
  }

  int access_acl(const Node&, std::string*) override { return ENODATA; }
};

std::unique_ptr<NodeKind> make_control_dir_node(Filesystem& fs) {
  return std::make_unique<ControlDirNode>(fs);
}

std::unique_ptr<NodeKind> make_control_file_nodes(Filesystem& fs) {
  return std::make_unique<ControlFileNodes>(fs);
}

}  // namespace metafs::fs
