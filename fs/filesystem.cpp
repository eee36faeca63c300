#include "filesystem.hpp"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

#include "caller_credentials.hpp"
#include "log.hpp"
#include "posix_acl.hpp"
#include "service_setup.hpp"

namespace metafs::fs {
namespace {

// A scientific file shown as a directory: read permission gives search permission too. Its
// link count is that of a directory with the subdirectories it lists (fields/ only when
// visible), so a walker that trusts st_nlink misses nothing it lists.
void present_as_directory(struct stat* st, bool fields_visible) {
  mode_t read_bits = st->st_mode & (S_IRUSR | S_IRGRP | S_IROTH);
  st->st_mode = S_IFDIR | read_bits | (read_bits >> 2);
  st->st_nlink = fields_visible ? 3 : 2;
  st->st_blocks = 0;  // the original inside holds the file's blocks: du counts them once
}

// The names the kernel may have cached in data file `rel`'s directory, its original's included.
std::vector<std::string> data_directory_names(const std::string& rel) {
  return extraction::DataView::top_names(extraction::split_relative(rel).name);
}

}  // namespace

int DirListing::complete(Pin* pin) {
  std::lock_guard lock(mutex_);
  if (reader) {
    error_ = reader->read(&entries);
    if (pin != nullptr) *pin = reader->used();
    reader.reset();
  }
  return error_;
}

Filesystem::Filesystem(const Options& options)
    : options_(options),
      source_(options.source),
      trimmer_(inodes_, inode_budget_for(options)),
      control_(stats_, [this] { return control_extra(); }),
      invalidator_(
          source_,
          Invalidator::Lookup{[this](const std::string& rel) { return inodes_.find_mirror(rel); },
                              data_directory_names, [this] { return inodes_.mirror_inodes(); }},
          options.max_watches) {
  ::clock_gettime(CLOCK_REALTIME, &started_);
  // In Node::Kind's order.
  kinds_[static_cast<std::size_t>(Node::Kind::kMirror)] = make_mirror_nodes(*this);
  kinds_[static_cast<std::size_t>(Node::Kind::kVirtual)] = make_view_nodes(*this);
  kinds_[static_cast<std::size_t>(Node::Kind::kControlDir)] = make_control_dir_node(*this);
  kinds_[static_cast<std::size_t>(Node::Kind::kControlFile)] = make_control_file_nodes(*this);
  kinds_[static_cast<std::size_t>(Node::Kind::kQuery)] = make_query_nodes(*this);
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
  // Every open file and every open directory whose listing is not read yet (the kernel may
  // serve it from its cache) holds a descriptor of the daemon's: take the hard limit, as
  // mergerfs does, rather than fail an open with EMFILE at the soft one (often 1024).
  struct rlimit files {};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &files) != 0) {
      log::fs()->warn("cannot raise the open files limit: {}", std::strerror(errno));
    }
  }
  struct stat root {};
  extract::FileDescriptor root_fd = source_.open_directory_path("");
  if (root_fd.valid() && ::fstat(root_fd.get(), &root) == 0) {
    source_filesystem_ = filesystem_of_descriptor(root_fd.get());
  }
  invalidator_.watch("", InodeTable::kRootIno, root.st_dev);
  if (source_filesystem_.inotify_sees_all_changes && invalidator_.watched("")) {
    log::fs()->info(
        "kernel cache: long ({} source: names, attributes and listings kept {} s, changes "
        "pushed by inotify)",
        source_filesystem_.name, options_.watch_timeout);
  } else {
    log::fs()->info(
        "kernel cache: short ({} source: inotify cannot see every change; names kept {} s, "
        "attributes {} s, listings read again)",
        source_filesystem_.name, options_.entry_timeout, options_.attr_timeout);
  }
  invalidator_.start(session);
  trimmer_.start(session);
  cache_ = std::make_unique<cache::MetadataCache>(cache_options_for(options_));
  auto backend = extraction::make_extraction_backend(backend_settings_for(options_));
  backend->start();  // workers come up while the kernel sends its first requests
  service_ = std::make_unique<extraction::ExtractionService>(source_, service_options_for(options_),
                                                             stats_, std::move(backend), *cache_);
  if (!options_.shared_cache.empty()) {
    // Waits for the server at most its connect timeout, once, before requests are served.
    shared_ = std::make_unique<shared_tier::SharedTier>(shared_tier_options_for(options_));
    service_->set_shared_tier(shared_.get());
  }
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
  add("watched_directories", "Source directories watched (long kernel cache timeouts).", false,
      invalidator_.watch_count());
  add("unwatchable_directories",
      "Lookups of source directories on a filesystem inotify cannot follow (short timeouts).", true,
      invalidator_.unwatchable());
  add("kernel_cache_long", "1 when SOURCE is watched: long timeouts, cached listings.", false,
      kernel_cache_long() ? 1 : 0);
  extra.texts.push_back({"kernel_cache", "mode",
                         "How long the kernel keeps names, attributes and listings (always 1).",
                         kernel_cache_long() ? "long" : "short"});
  extra.texts.push_back({"source_filesystem", "type", "SOURCE's filesystem type (always 1).",
                         source_filesystem_.name});
  add("inodes_trimmed",
      "Entries the kernel was asked to drop to keep the inode table in its "
      "budget.",
      true, trimmer_.trimmed());
  if (!cache_ || !service_) return extra;
  cache::CacheStats c = cache_->stats();
  cache::MemoryLruStats v = service_->view_stats();
  add("cache_hits", "Extractions answered by the cache.", true, c.hits);
  // Memory is the service's views alone now (see view_hits); kept so scrapers still find it.
  add("cache_memory_hits", "Always 0: memory hits are view_hits.", true, 0);
  add("cache_misses", "Extractions the cache did not have.", true, c.misses);
  add("evictions", "Entries evicted from the disk cache.", true, c.evictions);
  add("memory_evictions", "Entries dropped from memory.", true, v.evictions);
  add("cache_entries", "Records in the disk cache.", false, c.entries);
  add("cache_bytes_used", "Bytes of the disk cache in use.", false, c.disk_bytes_used);
  add("cache_file_bytes", "Size of the cache file.", false, c.disk_file_bytes);
  add("cache_bytes_limit", "Limit of the cache file (--cache-size).", false, c.disk_bytes_limit);
  add("cache_writes", "Records written to the disk cache.", true, c.writes);
  add("cache_dropped", "Records not stored.", true, c.dropped);
  add("cache_errors", "Disk cache errors.", true, c.errors);
  add("cache_enabled", "1 when the disk cache is in use.", false, c.disk_enabled ? 1 : 0);
  add("memory_bytes_used", "Bytes of metadata held in memory.", false, v.bytes);
  add("memory_bytes_limit", "Limit of metadata in memory (--memory-limit).", false,
      options_.memory_limit);
  add("memory_bytes_budget", "Memory limit after pressure scaling.", false, v.budget);
  add("memory_entries", "Entries held in memory.", false, v.entries);
  add("workers_ready",
      "Extractor worker processes started and not known to have ended (0: --isolation none).",
      false, service_->workers_ready());
  extraction::DataView::Live live = extraction::DataView::live();
  add("views_alive", "Views of data files in memory, in the LRU or held by a listing or request.",
      false, live.views);
  add("view_bytes_alive", "Memory of views_alive (estimate, as memory_bytes_used counts it).",
      false, live.bytes);
  if (shared_) {
    shared_tier::SharedTierStats s = shared_->stats();
    add("shared_up", "1 while the shared cache (PostgreSQL) answers.", false, s.up ? 1 : 0);
    add("shared_hits", "Extractions found in the shared cache.", true, s.hits);
    add("shared_misses", "Lookups the shared cache did not have.", true, s.misses);
    add("shared_timeouts", "Lookups past --shared-timeout.", true, s.timeouts);
    add("shared_skipped", "Lookups not tried: shared cache down or busy.", true, s.skipped);
    add("shared_errors", "Statements the shared cache refused.", true, s.errors);
    add("shared_written", "Rows written to the shared cache.", true, s.written);
    add("shared_dropped", "Rows not shared (queue full, refused, too large).", true, s.dropped);
    add("shared_queued", "Rows waiting to be written to the shared cache.", false, s.queued);
    add("shared_state_changes", "Times the shared cache went down or came back.", true,
        s.state_changes);
  }
  extra.pressure = c.pressure;
  extra.pressure_trigger = c.pressure_trigger;
  return extra;
}

int Filesystem::mirror_attributes(const std::string& rel, struct stat* st,
                                  extract::Format* format) {
  int rc = source_.lstat(rel, st);
  if (rc < 0) return -rc;
  *format = extract::Format::kNone;
  if (S_ISREG(st->st_mode)) {
    *format = service_->detect(rel, *st);
    if (*format != extract::Format::kNone) present_as_directory(st, options_.fields_visible);
  }
  return 0;
}

int Filesystem::open_source_file(const std::string& rel, const std::function<Caller()>& caller,
                                 const std::function<bool(const struct stat&)>& shown,
                                 extract::FileDescriptor* fd, OpenedFile* opened) {
  extract::FileDescriptor file;
  {
    AsCaller as(caller());
    if (!as.ok()) return EACCES;
    file = source_.open_file(rel);
  }
  if (!file.valid()) return -file.release();
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return errno;
  if (!S_ISREG(st.st_mode)) return EACCES;  // a FIFO or device swapped in
  if (!shown(st)) return ESTALE;            // another file has this name now
  *fd = std::move(file);
  if (st.st_size == 0) {
    opened->direct_io = true;  // read to end of file, as the source does
  } else {
    opened->keep_cache = true;  // dropped by the kernel when size or mtime change
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

bool Filesystem::final_data_version(const std::string& rel, const struct stat& st,
                                    std::shared_ptr<const extraction::DataVersion>* version) {
  extract::Format format = service_->detect(rel, st);
  if (format == extract::Format::kNone) return false;
  *version = service_->version(rel, st, format);
  return (*version)->final_seen.load(std::memory_order_acquire);
}

int Filesystem::data_view_of(const extraction::DataVersion& version,
                             std::shared_ptr<const extraction::DataView>* view) {
  if (prefetcher_) prefetcher_->accessed(version.rel);
  *view = service_->held_view(version);
  return *view ? 0 : ESTALE;
}

int Filesystem::lookup_listed(const DirListing& listing, const DirListing::Entry& listed,
                              fuse_entry_param* entry, DirListing::Pin* pin) {
  *entry = fuse_entry_param{};
  int err = listing.lookup_listed(listed, entry, pin);
  if (err == DirListing::kLookUpByName) return lookup(listing.ino, listed.name, entry);
  ++stats_.lookups;
  return err;
}

int Filesystem::view_of(const Node& node, std::shared_ptr<const extraction::DataView>* view) {
  *view = service_->held_view(*node.version);
  return *view ? 0 : ESTALE;
}

double Filesystem::mirror_timeout(const std::string& dir_rel) const {
  return invalidator_.watched(dir_rel) ? options_.watch_timeout : options_.entry_timeout;
}

double Filesystem::attr_timeout_of(const std::string& rel, const struct stat& st,
                                   extract::Format format) const {
  bool long_timeout = invalidator_.watched(std::string(extraction::split_relative(rel).dir));
  if (format == extract::Format::kNone && S_ISDIR(st.st_mode)) {
    long_timeout = long_timeout && invalidator_.watched(rel);
  }
  return long_timeout ? options_.watch_timeout : options_.attr_timeout;
}

bool Filesystem::listing_cacheable(const std::string& rel) const {
  return invalidator_.watched(rel);
}

bool Filesystem::kernel_cache_long() const {
  return source_filesystem_.inotify_sees_all_changes && invalidator_.watched("");
}

int Filesystem::lookup_mirror(const std::string& parent_rel, const std::string& rel,
                              fuse_entry_param* entry) {
  struct stat st {};
  extract::Format format;
  if (int err = mirror_attributes(rel, &st, &format)) return err;
  auto node = inodes_.acquire_mirror(rel);
  node->show(st);
  if (format == extract::Format::kNone && S_ISDIR(st.st_mode)) {
    invalidator_.watch(rel, node->ino, st.st_dev);
  }
  st.st_ino = node->ino;
  entry->ino = node->ino;
  entry->attr = st;
  entry->attr_timeout = attr_timeout_of(rel, st, format);
  entry->entry_timeout = mirror_timeout(parent_rel);
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

NodeKind& Filesystem::served_by(const Node& node) const {
  return *kinds_[static_cast<std::size_t>(node.kind)];
}

int Filesystem::lookup(fuse_ino_t parent, const std::string& name, fuse_entry_param* entry) {
  ++stats_.lookups;
  *entry = fuse_entry_param{};
  auto dir = inodes_.get(parent);
  if (!dir) return ESTALE;
  if (name.size() > NAME_MAX) return ENAMETOOLONG;
  return served_by(*dir).lookup(*dir, name, entry);
}

int Filesystem::getattr(fuse_ino_t ino, struct stat* st, double* timeout) {
  ++stats_.getattrs;
  auto node = inodes_.get(ino);
  if (!node) return ESTALE;
  return served_by(*node).getattr(*node, st, timeout);
}

int Filesystem::readlink(fuse_ino_t ino, std::string* target) {
  auto node = inodes_.get(ino);
  if (!node) return ESTALE;
  return served_by(*node).readlink(*node, target);
}

int Filesystem::opendir(fuse_ino_t ino, const std::function<Caller()>& caller,
                        std::unique_ptr<DirListing>* out) {
  ++stats_.readdirs;
  auto node = inodes_.get(ino);
  if (!node) return ESTALE;
  auto listing = std::make_unique<DirListing>();
  listing->ino = ino;
  listing->entries.push_back({".", ino, S_IFDIR});
  listing->entries.push_back({"..", ino, S_IFDIR});
  if (int err = served_by(*node).opendir(*node, caller, listing.get())) return err;
  *out = std::move(listing);
  return 0;
}

int Filesystem::open(fuse_ino_t ino, const std::function<Caller()>& caller,
                     extract::FileDescriptor* fd, OpenedFile* opened) {
  auto node = inodes_.get(ino);
  if (!node) return ESTALE;
  return served_by(*node).open(*node, caller, fd, opened);
}

int Filesystem::open_for_read(fuse_ino_t ino, ReadSource* source) {
  ++stats_.reads;
  auto node = inodes_.get(ino);
  if (!node) return ESTALE;
  return served_by(*node).open_for_read(*node, source);
}

int Filesystem::access_acl(const Node& node, std::string* value) {
  return served_by(node).access_acl(node, value);
}

int Filesystem::read_acl(const std::string& rel, struct stat* st, std::string* acl) {
  // The kernel takes an error here as a denial: every failure to read an ACL refuses
  // access (to everyone but the owner) rather than falling back to the mode bits.
  int rc = source_.xattr(rel, kAclAccessXattr, st, acl);
  if (rc == -ENOTSUP) return ENODATA;  // a source filesystem without ACLs
  if (rc < 0 && rc != -ENODATA && rc != -ENOENT) {
    log::fs()->error("cannot read the ACL of {}: {}", rel, std::strerror(-rc));
  }
  return -rc;
}

int Filesystem::derive_acl(const std::string& rel, const std::string& acl, bool directory,
                           std::string* value) {
  if (derive_view_acl(acl, directory, value)) return 0;
  log::fs()->error("{}: unreadable ACL ({} bytes): access refused", rel, acl.size());
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

}  // namespace metafs::fs
