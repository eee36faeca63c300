#include "filesystem.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "caller_credentials.hpp"
#include "log.hpp"
#include "posix_acl.hpp"
#include "service_setup.hpp"

namespace metafs::fs {
namespace {

constexpr const char* kControlDirName = ".metafs";
// A view is an immutable snapshot: its attributes never change under the same inode.
constexpr double kSnapshotTimeout = 3600.0;

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

// A scientific file shown as a directory: read permission gives search permission too.
void present_as_directory(struct stat* st) {
  mode_t read_bits = st->st_mode & (S_IRUSR | S_IRGRP | S_IROTH);
  st->st_mode = S_IFDIR | read_bits | (read_bits >> 2);
  st->st_nlink = 2;
}

}  // namespace

Filesystem::Filesystem(const Options& options)
    : options_(options),
      source_(options.source),
      trimmer_(inodes_, inode_budget_for(options)),
      control_(stats_, [this] { return control_extra(); }),
      invalidator_(source_,
                   Invalidator::Lookup{
                       [this](const std::string& rel) { return inodes_.find_mirror(rel); },
                       [](const std::string&) { return extraction::DataView::fixed_names(); },
                       [this] { return inodes_.mirror_inodes(); }},
                   options.max_watches) {
  ::clock_gettime(CLOCK_REALTIME, &started_);
}

Filesystem::~Filesystem() {
  stop();
  prefetcher_.reset();  // before the service it uses
  service_.reset();     // before the cache it writes to
  if (cache_) cache_->flush();
}

void Filesystem::stop() {
  trimmer_.stop();
  invalidator_.stop();
}

void Filesystem::cancel_extractions() {
  if (service_) service_->cancel();
}

void Filesystem::start(fuse_session* session) {
  invalidator_.watch("", InodeTable::kRootIno);
  invalidator_.start(session);
  trimmer_.start(session);
  cache_ = std::make_unique<cache::MetadataCache>(cache_options_for(options_));
  auto backend = extraction::make_extraction_backend(backend_settings_for(options_));
  backend->start();  // workers come up while the kernel sends its first requests
  service_ = std::make_unique<extraction::ExtractionService>(source_, service_options_for(options_),
                                                             stats_, std::move(backend), *cache_);
  if (options_.prefetch > 0) {
    prefetcher_ = std::make_unique<extraction::Prefetcher>(source_, *service_,
                                                           prefetch_options_for(options_));
  }
}

ControlFiles::Extra Filesystem::control_extra() const {
  ControlFiles::Extra extra;
  auto add = [&](const char* name, const char* help, bool counter, std::uint64_t value) {
    extra.metrics.push_back({name, help, counter, value});
  };
  add("inodes", "Inodes the kernel holds.", false, inodes_.size());
  add("inode_bytes", "Memory of the inode table (estimate).", false, inodes_.bytes());
  add("inode_bytes_budget", "Share of --memory-limit for the inode table.", false,
      trimmer_.budget());
  add("invalidations", "Changes in the source pushed to the kernel (inotify).", true,
      invalidator_.notifications());
  add("inodes_trimmed",
      "Entries the kernel was asked to drop to keep the inode table in its "
      "budget.",
      true, trimmer_.trimmed());
  if (!cache_ || !service_) return extra;
  cache::CacheStats c = cache_->stats();
  cache::MemoryLruStats v = service_->view_stats();
  add("cache_hits", "Extractions answered by the cache.", true, c.hits);
  add("cache_memory_hits", "Cache hits answered from memory.", true, c.memory_hits);
  add("cache_misses", "Extractions the cache did not have.", true, c.misses);
  add("evictions", "Entries evicted from the disk cache.", true, c.evictions);
  add("memory_evictions", "Entries dropped from memory.", true, c.memory_evictions + v.evictions);
  add("cache_entries", "Records in the disk cache.", false, c.entries);
  add("cache_bytes_used", "Bytes of the disk cache in use.", false, c.disk_bytes_used);
  add("cache_file_bytes", "Size of the cache file.", false, c.disk_file_bytes);
  add("cache_bytes_limit", "Limit of the cache file (--cache-size).", false, c.disk_bytes_limit);
  add("cache_writes", "Records written to the disk cache.", true, c.writes);
  add("cache_dropped", "Records not stored.", true, c.dropped);
  add("cache_errors", "Disk cache errors.", true, c.errors);
  add("cache_enabled", "1 when the disk cache is in use.", false, c.disk_enabled ? 1 : 0);
  add("memory_bytes_used", "Bytes of metadata held in memory.", false,
      c.memory_bytes_used + v.bytes);
  add("memory_bytes_limit", "Limit of metadata in memory (--memory-limit).", false,
      options_.memory_limit);
  add("memory_bytes_budget", "Memory limit after pressure scaling.", false,
      c.memory_bytes_budget + v.budget);
  add("memory_entries", "Entries held in memory.", false, c.memory_entries + v.entries);
  extra.pressure_level = std::string(cache::pressure_level_name(c.pressure));
  return extra;
}

int Filesystem::mirror_attributes(const std::string& rel, struct stat* st,
                                  extract::Format* format) {
  int rc = source_.lstat(rel, st);
  if (rc < 0) return -rc;
  *format = extract::Format::kNone;
  if (S_ISREG(st->st_mode)) {
    *format = service_->detect(rel, *st);
    if (*format != extract::Format::kNone) present_as_directory(st);
  }
  return 0;
}

int Filesystem::data_view(const std::string& rel, const struct stat& st,
                          std::shared_ptr<const extraction::DataVersion>* version,
                          std::shared_ptr<const extraction::DataView>* view) {
  extract::Format format = service_->detect(rel, st);
  if (format == extract::Format::kNone) return ENOTDIR;
  *version = service_->version(rel, st, format);
  if (prefetcher_) prefetcher_->accessed(rel);  // reads ahead while this one is extracted
  *view = service_->view(**version);
  return 0;
}

int Filesystem::view_of(const Node& node, std::shared_ptr<const extraction::DataView>* view) {
  *view = service_->held_view(*node.version);
  return *view ? 0 : ESTALE;
}

double Filesystem::mirror_timeout(const std::string& dir_rel) const {
  return invalidator_.watched(dir_rel) ? options_.watch_timeout : options_.attr_timeout;
}

int Filesystem::lookup_mirror(const std::string& parent_rel, const std::string& rel,
                              fuse_entry_param* entry) {
  struct stat st {};
  extract::Format format;
  if (int err = mirror_attributes(rel, &st, &format)) return err;
  auto node = inodes_.acquire_mirror(rel);
  node->show(st);
  if (format == extract::Format::kNone && S_ISDIR(st.st_mode)) invalidator_.watch(rel, node->ino);
  st.st_ino = node->ino;
  entry->ino = node->ino;
  entry->attr = st;
  bool watched = invalidator_.watched(parent_rel);
  entry->attr_timeout = watched ? options_.watch_timeout : options_.attr_timeout;
  entry->entry_timeout = watched ? options_.watch_timeout : options_.entry_timeout;
  return 0;
}

void Filesystem::forget(fuse_ino_t ino, std::uint64_t count) {
  auto erased = inodes_.forget(ino, count);
  if (erased && erased->kind == Node::Kind::kMirror) invalidator_.unwatch(erased->rel_path);
}

int Filesystem::lookup_virtual(const std::shared_ptr<const extraction::DataVersion>& version,
                               const extraction::DataView& view, extraction::DataView::EntryId id,
                               double entry_timeout, fuse_entry_param* entry) {
  if (id >= InodeTable::kMaxEntries) return EOVERFLOW;
  auto node = inodes_.acquire_virtual(version, id);
  entry->attr = view.attributes(id);
  entry->attr.st_ino = node->ino;
  entry->ino = node->ino;
  entry->attr_timeout = kSnapshotTimeout;
  entry->entry_timeout = entry_timeout;
  return 0;
}

int Filesystem::lookup(fuse_ino_t parent, const std::string& name, fuse_entry_param* entry) {
  ++stats_.lookups;
  *entry = fuse_entry_param{};
  auto dir = inodes_.get(parent);
  if (!dir) return ESTALE;
  if (name.size() > NAME_MAX) return ENAMETOOLONG;
  switch (dir->kind) {
    case Node::Kind::kMirror: {
      if (dir->ino == InodeTable::kRootIno && name == kControlDirName) {
        if (int err = getattr(InodeTable::kControlDirIno, &entry->attr, &entry->attr_timeout)) {
          return err;
        }
        entry->ino = InodeTable::kControlDirIno;
        entry->entry_timeout = kSnapshotTimeout;
        return 0;
      }
      struct stat st {};
      if (int rc = source_.lstat(dir->rel_path, &st); rc < 0) return -rc;
      if (S_ISDIR(st.st_mode)) {
        return lookup_mirror(dir->rel_path, extraction::join_relative(dir->rel_path, name), entry);
      }
      if (!dir->shows(st)) return ESTALE;  // another file has this data file's name now
      std::shared_ptr<const extraction::DataVersion> version;
      std::shared_ptr<const extraction::DataView> view;
      if (int err = data_view(dir->rel_path, st, &version, &view)) return err;
      extraction::DataView::EntryId id = view->find(extraction::DataView::kRootEntry, name);
      if (id == extraction::DataView::kNoEntry) return ENOENT;
      // These names lead to the current version's view: they are invalidated when the file
      // changes, if its directory is watched. A view that is not the file's verdict (a passing
      // failure) is asked for again on every lookup, so that its retry is seen.
      double timeout =
          view->extraction().verdict == extract::Extraction::Verdict::kFinal
              ? mirror_timeout(std::string(extraction::split_relative(dir->rel_path).dir))
              : 0;
      return lookup_virtual(version, *view, id, timeout, entry);
    }
    case Node::Kind::kVirtual: {
      std::shared_ptr<const extraction::DataView> view;
      if (int err = view_of(*dir, &view)) return err;
      extraction::DataView::EntryId id = view->find(dir->entry, name);
      if (id == extraction::DataView::kNoEntry) return ENOENT;
      // Inside one version's immutable view: names never change.
      return lookup_virtual(dir->version, *view, id, kSnapshotTimeout, entry);
    }
    case Node::Kind::kControlDir: {
      ControlFile file;
      if (!ControlFiles::from_name(name, &file)) return ENOENT;
      fuse_ino_t ino = InodeTable::kFirstControlFileIno + static_cast<fuse_ino_t>(file);
      entry->attr = control_.refresh(file);
      entry->attr.st_ino = ino;
      entry->ino = ino;
      entry->attr_timeout = kSnapshotTimeout;
      entry->entry_timeout = 0;  // looked up, and so rendered, on every open
      return 0;
    }
    case Node::Kind::kControlFile:
      return ENOTDIR;
  }
  return EIO;
}

int Filesystem::getattr(fuse_ino_t ino, struct stat* st, double* timeout) {
  ++stats_.getattrs;
  auto node = inodes_.get(ino);
  if (!node) return ESTALE;
  switch (node->kind) {
    case Node::Kind::kMirror: {
      extract::Format format;
      if (int err = mirror_attributes(node->rel_path, st, &format)) return err;
      node->show(*st);
      st->st_ino = node->ino;
      *timeout = mirror_timeout(std::string(extraction::split_relative(node->rel_path).dir));
      return 0;
    }
    case Node::Kind::kVirtual: {
      std::shared_ptr<const extraction::DataView> view;
      if (int err = view_of(*node, &view)) return err;
      *st = view->attributes(node->entry);
      st->st_ino = node->ino;
      *timeout = kSnapshotTimeout;
      return 0;
    }
    case Node::Kind::kControlDir: {
      *st = {};
      st->st_ino = node->ino;
      st->st_mode = S_IFDIR | 0555;
      st->st_nlink = 2;
      st->st_uid = ::getuid();
      st->st_gid = ::getgid();
      st->st_mtim = st->st_ctim = st->st_atim = started_;
      *timeout = kSnapshotTimeout;
      return 0;
    }
    case Node::Kind::kControlFile:
      *st = control_.attributes(node->control);
      st->st_ino = node->ino;
      *timeout = kSnapshotTimeout;
      return 0;
  }
  return EIO;
}

int Filesystem::readlink(fuse_ino_t ino, std::string* target) {
  auto node = inodes_.get(ino);
  if (!node) return ESTALE;
  if (node->kind == Node::Kind::kMirror) {
    int rc = source_.readlink(node->rel_path, target);
    return rc < 0 ? -rc : 0;
  }
  if (node->kind == Node::Kind::kVirtual) {
    std::shared_ptr<const extraction::DataView> view;
    if (int err = view_of(*node, &view)) return err;
    if (view->type(node->entry) != extraction::DataView::EntryType::kLink) return EINVAL;
    *target = *view->content(node->entry);
    return 0;
  }
  return EINVAL;
}

int Filesystem::opendir(fuse_ino_t ino, const Caller& caller, std::unique_ptr<DirListing>* out) {
  ++stats_.readdirs;
  auto node = inodes_.get(ino);
  if (!node) return ESTALE;
  auto listing = std::make_unique<DirListing>();
  listing->ino = ino;
  listing->entries.push_back({".", ino, S_IFDIR});
  listing->entries.push_back({"..", ino, S_IFDIR});
  auto add_view_entries = [&](const extraction::DataView& view, extraction::DataView::EntryId dir) {
    for (extraction::DataView::EntryId child : view.children(dir)) {
      mode_t type = view.type(child) == extraction::DataView::EntryType::kDirectory ? S_IFDIR
                    : view.type(child) == extraction::DataView::EntryType::kLink    ? S_IFLNK
                                                                                    : S_IFREG;
      listing->entries.push_back({view.name(child), InodeTable::kFirstDynamicIno + child, type});
    }
  };
  switch (node->kind) {
    case Node::Kind::kMirror: {
      struct stat st {};
      if (int rc = source_.lstat(node->rel_path, &st); rc < 0) return -rc;
      if (!S_ISDIR(st.st_mode)) {
        if (!node->shows(st)) return ESTALE;  // another file has this data file's name now
        std::shared_ptr<const extraction::DataVersion> version;
        std::shared_ptr<const extraction::DataView> view;
        if (int err = data_view(node->rel_path, st, &version, &view)) return err;
        add_view_entries(*view, extraction::DataView::kRootEntry);
        break;
      }
      int fd;
      {
        AsCaller as(caller);  // the listing is read with the caller's rights, as it is shown
        if (!as.ok()) return EACCES;
        fd = source_.open_dir(node->rel_path);
      }
      if (fd < 0) return -fd;
      struct stat opened {};
      if (::fstat(fd, &opened) != 0 || (!node->rel_path.empty() && !node->shows(opened))) {
        ::close(fd);
        return ESTALE;  // another directory has this name now
      }
      DIR* dir = ::fdopendir(fd);
      if (dir == nullptr) {
        int err = errno;
        ::close(fd);
        return err;
      }
      if (node->ino == InodeTable::kRootIno) {
        listing->entries.push_back({kControlDirName, InodeTable::kControlDirIno, S_IFDIR});
      }
      errno = 0;
      while (struct dirent* d = ::readdir(dir)) {
        std::string name = d->d_name;
        if (name == "." || name == "..") continue;
        if (node->ino == InodeTable::kRootIno && name == kControlDirName) continue;
        mode_t type = dirent_type(d->d_type);
        // A regular file may be shown as a directory: leave the type to stat.
        if (type == S_IFREG) type = 0;
        listing->entries.push_back({std::move(name), d->d_ino, type});
      }
      int err = errno;
      ::closedir(dir);
      if (err != 0) return err;
      break;
    }
    case Node::Kind::kVirtual: {
      std::shared_ptr<const extraction::DataView> view;
      if (int err = view_of(*node, &view)) return err;
      if (view->type(node->entry) != extraction::DataView::EntryType::kDirectory) return ENOTDIR;
      add_view_entries(*view, node->entry);
      listing->immutable = true;
      break;
    }
    case Node::Kind::kControlDir:
      for (ControlFile file : {ControlFile::kVersion, ControlFile::kStats, ControlFile::kMetrics}) {
        listing->entries.push_back(
            {ControlFiles::name(file),
             InodeTable::kFirstControlFileIno + static_cast<fuse_ino_t>(file), S_IFREG});
      }
      break;
    case Node::Kind::kControlFile:
      return ENOTDIR;
  }
  *out = std::move(listing);
  return 0;
}

int Filesystem::open(fuse_ino_t ino, const std::function<Caller()>& caller,
                     extract::FileDescriptor* fd, OpenedFile* opened) {
  auto node = inodes_.get(ino);
  if (!node) return ESTALE;
  switch (node->kind) {
    case Node::Kind::kMirror: {
      int rc;
      {
        AsCaller as(caller());
        if (!as.ok()) return EACCES;
        rc = source_.open_file(node->rel_path);
      }
      if (rc < 0) return -rc;
      extract::FileDescriptor file(rc);
      struct stat st {};
      if (::fstat(file.get(), &st) != 0) return errno;
      if (!S_ISREG(st.st_mode)) return EACCES;  // a FIFO or device swapped in
      if (!node->shows(st)) return ESTALE;      // another file has this name now
      *fd = std::move(file);
      opened->keep_cache = true;  // dropped by the kernel when size or mtime change
      return 0;
    }
    case Node::Kind::kVirtual: {
      std::shared_ptr<const extraction::DataView> view;
      if (int err = view_of(*node, &view)) return err;
      if (view->type(node->entry) != extraction::DataView::EntryType::kFile) return EISDIR;
      opened->keep_cache = true;  // a view never changes under its inode
      return 0;
    }
    case Node::Kind::kControlFile:
      opened->keep_cache = false;  // rendered anew on every lookup
      return 0;
    case Node::Kind::kControlDir:
      return EISDIR;
  }
  return EIO;
}

int Filesystem::open_for_read(fuse_ino_t ino, ReadSource* source) {
  ++stats_.reads;
  auto node = inodes_.get(ino);
  if (!node) return ESTALE;
  switch (node->kind) {
    case Node::Kind::kMirror:
      return EBADF;  // read through the descriptor open() returned
    case Node::Kind::kVirtual: {
      std::shared_ptr<const extraction::DataView> view;
      if (int err = view_of(*node, &view)) return err;
      if (view->type(node->entry) != extraction::DataView::EntryType::kFile) return EISDIR;
      source->bytes = view->content(node->entry);
      return 0;
    }
    case Node::Kind::kControlFile:
      source->bytes = control_.content(node->control);
      return 0;
    case Node::Kind::kControlDir:
      return EISDIR;
  }
  return EIO;
}

int Filesystem::statfs(struct statvfs* st) {
  int rc = source_.statvfs(st);
  return rc < 0 ? -rc : 0;
}

int Filesystem::getxattr(fuse_ino_t ino, const std::string& name, std::string* value) {
  if (name != kAclAccessXattr) return ENODATA;
  auto node = inodes_.get(ino);
  if (!node) return ESTALE;
  return access_acl(*node, value);
}

int Filesystem::listxattr(fuse_ino_t ino, std::string* names) {
  auto node = inodes_.get(ino);
  if (!node) return ESTALE;
  std::string acl;
  int err = access_acl(*node, &acl);
  if (err == ENODATA) return 0;
  if (err != 0) return err;
  names->append(kAclAccessXattr);
  names->push_back('\0');
  return 0;
}

int Filesystem::access_acl(const Node& node, std::string* value) {
  // The kernel takes an error here as a denial: every failure to read an ACL refuses
  // access (to everyone but the owner) rather than falling back to the mode bits.
  auto read_acl = [&](const std::string& rel, struct stat* st, std::string* acl) {
    int rc = source_.xattr(rel, kAclAccessXattr, st, acl);
    if (rc == -ENOTSUP) return ENODATA;  // a source filesystem without ACLs
    if (rc < 0 && rc != -ENODATA && rc != -ENOENT) {
      log::fs()->error("cannot read the ACL of {}: {}", rel, std::strerror(-rc));
    }
    return -rc;
  };
  auto derive = [&](const std::string& rel, const std::string& acl, bool directory) {
    if (derive_view_acl(acl, directory, value)) return 0;
    log::fs()->error("{}: unreadable ACL ({} bytes): access refused", rel, acl.size());
    return EIO;
  };
  switch (node.kind) {
    case Node::Kind::kMirror: {
      struct stat st {};
      std::string acl;
      int err = read_acl(node.rel_path, &st, &acl);
      if (err != 0 && err != ENODATA) return err;
      // Another file's ACL under this node's name would pair with the old file's mode bits.
      if (!node.rel_path.empty() && !node.shows(st)) return ESTALE;
      if (err != 0) return err;
      // A data file is shown as a directory: it shows its view's ACL.
      if (S_ISREG(st.st_mode) && service_->detect(node.rel_path, st) != extract::Format::kNone) {
        return derive(node.rel_path, acl, true);
      }
      *value = std::move(acl);
      return 0;
    }
    case Node::Kind::kVirtual: {
      std::shared_ptr<const extraction::DataView> view;
      if (int err = view_of(node, &view)) return err;
      extraction::DataView::EntryType type = view->type(node.entry);
      if (type == extraction::DataView::EntryType::kLink) return ENODATA;
      const extraction::DataVersion& version = *node.version;
      struct stat st {};
      std::string acl;
      int err = read_acl(version.rel, &st, &acl);
      if (err != 0 && err != ENODATA) return err;
      // A changed ACL is a new version of the same file, but another file under the same name
      // has no say over this one's views.
      if (st.st_dev != version.st.st_dev || st.st_ino != version.st.st_ino) return ESTALE;
      if (err != 0) return err;
      return derive(version.rel, acl, type == extraction::DataView::EntryType::kDirectory);
    }
    case Node::Kind::kControlDir:
    case Node::Kind::kControlFile:
      return ENODATA;
  }
  return EIO;
}

}  // namespace metafs::fs
