#pragma once

#include <sys/stat.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "caller_credentials.hpp"
#include "control_files.hpp"
#include "extraction/extraction_service.hpp"
#include "extraction/prefetcher.hpp"
#include "extraction/source_tree.hpp"
#include "inode_table.hpp"
#include "inode_trimmer.hpp"
#include "invalidator.hpp"
#include "metadata_cache.hpp"
#include "node_kinds.hpp"
#include "options.hpp"
#include "source_file.hpp"
#include "source_filesystem.hpp"
#include "stats.hpp"

namespace metafs::fs {

// A directory listing: opened (and access checked) at opendir, its entries read when the
// kernel first asks for them, and served by offset (index + 1) to readdir. A directory whose
// listing the kernel keeps (`cacheable`) is opened again and again but read only once.
struct DirListing {
  struct Entry {
    std::string name;
    fuse_ino_t ino_hint;  // shown as d_ino by plain readdir
    mode_t type;          // S_IFDIR, S_IFREG, S_IFLNK, ... (0: unknown)
  };
  // Reads the entries after "." and "..".
  class Reader {
   public:
    virtual ~Reader() = default;
    // Appends the entries; returns 0 or an errno.
    virtual int read(std::vector<Entry>* entries) = 0;
    // The view read() listed from, which the same request's lookups may use again, handed
    // over before the reader goes; none for a listing that is not a view's.
    virtual std::shared_ptr<const extraction::DataView> used() { return nullptr; }
  };
  // Held by one readdir request (op_readdir's serve) for its lookups, and by nothing longer:
  // an open directory pins no view between requests.
  using Pin = std::shared_ptr<const extraction::DataView>;

  // Reads the rest of the listing, once: 0, or the errno reading failed with. What the reader
  // used goes to `pin` when given.
  int complete(Pin* pin = nullptr);

  std::vector<Entry> entries;  // "." and ".." first
  fuse_ino_t ino = 0;
  // The kernel may keep the listing: a view's directory never changes under its inode, and a
  // watched source directory's listing is dropped (Invalidator) when the directory changes.
  bool cacheable = false;
  std::unique_ptr<Reader> reader;  // null once read
  // Answers readdirplus's lookup of an entry read, when the opener can without asking again
  // (a data directory: the entry in the view listed, at the version opened, with no lstat of
  // the source and no search for the view per entry); unset: Filesystem::lookup by name.
  // It may answer kLookUpByName instead (the source changed since opendir). `pin` is the
  // request's: what one lookup found, the next ones of the same request use.
  std::function<int(const Entry& listed, fuse_entry_param* entry, Pin* pin)> lookup_listed;
  static constexpr int kLookUpByName = -1;

 private:
  std::mutex mutex_;  // the kernel serialises readdir of one open directory; this is cheap
  int error_ = 0;
};

// A reader of the children of view entry `dir`, but not one named `unlisted` (fields/ at a data
// directory's top, unless --fields=visible: it stays reachable by lookup). The view is found by
// `find` when the entries are read and held only while they are: a listing the kernel keeps
// needs no view, and an open directory keeps none in memory.
using ViewFinder = std::function<int(std::shared_ptr<const extraction::DataView>*)>;
std::unique_ptr<DirListing::Reader> view_entries_reader(ViewFinder find,
                                                        extraction::DataView::EntryId dir,
                                                        std::string_view unlisted = {});
// readdirplus's entry `listed` of view directory `dir`, listed by a view_entries_reader: in the
// view the request pinned (`pin`, set by the reader or an earlier lookup), else in the one
// `find` gives, then pinned for the request's next lookups. Its id, or kNoEntry when that view
// has another entry at the listed id (look it up by name); `find`'s error as is.
int listed_view_entry(DirListing::Pin* pin, const ViewFinder& find,
                      extraction::DataView::EntryId dir, const DirListing::Entry& listed,
                      std::shared_ptr<const extraction::DataView>* shown,
                      extraction::DataView::EntryId* id);

// What read() serves from memory: a virtual or control file's bytes. (A mirrored file and a
// data file's original are read through the descriptor open() gave.)
struct ReadSource {
  std::shared_ptr<const std::string> bytes;
};

// How the kernel may cache a file opened by Filesystem::open.
struct OpenedFile {
  bool keep_cache = false;
  // Reads go to the daemon whatever the size says: a file whose size is 0 may still hold
  // bytes (procfs and sysfs files bind-mounted into SOURCE), and the kernel would otherwise
  // read nothing past its size.
  bool direct_io = false;
};

// The filesystem's state and the work of every operation. Each do-function returns 0 or a
// positive errno and never throws for an expected failure; the op handlers only reply.
class Filesystem {
 public:
  // Opens SOURCE; throws std::system_error when it cannot. Starts no thread or process.
  explicit Filesystem(const Options& options);
  ~Filesystem();

  // Opens the cache and starts the extraction backend (threads, worker processes): call once,
  // after the daemon has detached and before the first request.
  void start(fuse_session* session);
  // Stops the threads that talk to the kernel (invalidations): call before the session goes.
  void stop();
  // The daemon is stopping: extractions in flight end at once (nothing of them is cached),
  // later ones fail. Thread-safe.
  void cancel_extractions();

  const Options& options() const { return options_; }
  Stats& stats() { return stats_; }

  int lookup(fuse_ino_t parent, const std::string& name, fuse_entry_param* entry);
  // readdirplus's lookup of entry `listed` of `listing` through its lookup_listed.
  int lookup_listed(const DirListing& listing, const DirListing::Entry& listed,
                    fuse_entry_param* entry, DirListing::Pin* pin);
  int getattr(fuse_ino_t ino, struct stat* st, double* timeout);
  int readlink(fuse_ino_t ino, std::string* target);
  // A mirrored directory is opened with `caller`'s credentials (AsCaller) and listed through
  // that descriptor; `caller` is asked only for a mirrored directory (it reads /proc).
  int opendir(fuse_ino_t ino, const std::function<Caller()>& caller,
              std::unique_ptr<DirListing>* listing);
  // A mirrored file: opened beneath SOURCE with `caller`'s credentials, so the kernel checks
  // the inode actually opened; ESTALE when it is not the inode this node was shown as. `*fd`
  // is then the descriptor to read. Other files: checked, `*fd` left empty.
  // `caller` is asked only for a mirrored file (it reads /proc).
  int open(fuse_ino_t ino, const std::function<Caller()>& caller, extract::FileDescriptor* fd,
           OpenedFile* opened);
  int open_for_read(fuse_ino_t ino, ReadSource* source);
  void forget(fuse_ino_t ino, std::uint64_t count);
  int statfs(struct statvfs* st);
  // Extended attributes: only the access ACL (kAclAccessXattr), so the kernel enforces
  // SOURCE's ACLs; ENODATA for every other name and for nodes without one.
  int getxattr(fuse_ino_t ino, const std::string& name, std::string* value);
  // The names getxattr answers for `ino`, each followed by a NUL.
  int listxattr(fuse_ino_t ino, std::string* names);

  // /.metafs/query or /.metafs/errors (role kRoot or kErrors), answered for the caller of
  // the current request (RequestScope).
  int lookup_query_node(Node::QueryRole role, fuse_entry_param* entry);

  // What the cache, the views and the inode table add to /.metafs.
  ControlFiles::Extra control_extra() const;

 private:
  friend class MirrorNodes;
  friend class ViewNodes;
  friend class ControlDirNode;
  friend class ControlFileNodes;
  friend class QueryNodes;

  // The one place that decides how a node is served: by its kind.
  NodeKind& served_by(const Node& node) const;

  // Opens regular file `rel` beneath SOURCE with `caller`'s credentials, so the kernel checks
  // the inode actually opened; ESTALE unless `shown` says the opened inode (its fstat) is the
  // file the kernel was shown under this node. Says in `opened` how the kernel may cache it.
  int open_source_file(const std::string& rel, const std::function<Caller()>& caller,
                       const std::function<bool(const struct stat&)>& shown,
                       extract::FileDescriptor* fd, OpenedFile* opened);
  // A mirrored path's attributes as shown (a scientific file becomes a directory).
  int mirror_attributes(const std::string& rel, struct stat* st, extract::Format* format);
  int lookup_mirror(const std::string& parent_rel, const std::string& rel, fuse_entry_param* entry);
  // Cache timeout for names in mirrored directory `dir_rel`: long when it is watched.
  double mirror_timeout(const std::string& dir_rel) const;
  // Cache timeout for the attributes of mirrored path `rel` (`st`, `format` as shown): long
  // when its directory is watched and, for a source directory, when it is watched itself
  // (a directory on a filesystem inotify cannot follow has no watch).
  double attr_timeout_of(const std::string& rel, const struct stat& st,
                         extract::Format format) const;
  // Whether mirrored path `rel` (a directory) may have its listing kept by the kernel.
  bool listing_cacheable(const std::string& rel) const;
  // The mount's mode: SOURCE's root is watched, on a filesystem inotify sees every change of.
  bool kernel_cache_long() const;
  int lookup_virtual(const std::shared_ptr<const extraction::DataVersion>& version,
                     const extraction::DataView& view, extraction::DataView::EntryId id,
                     double entry_timeout, fuse_entry_param* entry);
  // The version of scientific file `rel` whose lstat the caller just took (`st`) and its
  // view (extracted on a miss); ENOTDIR when the file is not scientific.
  int data_view(const std::string& rel, const struct stat& st,
                std::shared_ptr<const extraction::DataVersion>* version,
                std::shared_ptr<const extraction::DataView>* view);
  // The version of scientific file `rel` (lstat `st`) when a view of its verdict was already
  // found for it (DataVersion::final_seen), so its listing is known without the view.
  bool final_data_version(const std::string& rel, const struct stat& st,
                          std::shared_ptr<const extraction::DataVersion>* version);
  // The view of `version` for its data directory's listing, extracted again if it is gone
  // and the file is still that version (ESTALE otherwise).
  int data_view_of(const extraction::DataVersion& version,
                   std::shared_ptr<const extraction::DataView>* view);
  // The view a virtual node belongs to; ESTALE when it is gone and the file has changed.
  int view_of(const Node& node, std::shared_ptr<const extraction::DataView>* view);
  // The access ACL a node shows: a mirrored path's own, derived from the data file's for
  // a data directory and everything in its view. ENODATA when there is none.
  int access_acl(const Node& node, std::string* value);
  // The ACL of `rel` and in `st` its lstat; ENODATA when it has none, an errno (logged) when
  // it cannot be read: the kernel takes any error as a denial.
  int read_acl(const std::string& rel, struct stat* st, std::string* acl);
  // The ACL a view entry shows, derived from its data file's `acl`.
  int derive_acl(const std::string& rel, const std::string& acl, bool directory,
                 std::string* value);

  Options options_;
  Stats stats_;
  extraction::SourceTree source_;
  InodeTable inodes_;
  InodeTrimmer trimmer_;  // keeps inodes_ within its share of --memory-limit
  std::unique_ptr<cache::MetadataCache> cache_;
  std::unique_ptr<shared_tier::SharedTier> shared_;  // --shared-cache; outlives service_
  std::unique_ptr<extraction::ExtractionService> service_;
  std::unique_ptr<extraction::Prefetcher> prefetcher_;  // after service_: destroyed before it
  ControlFiles control_;
  Invalidator invalidator_;
  SourceFilesystem source_filesystem_{"unknown", false};  // SOURCE's root's, from start()
  struct timespec started_ {};
  std::unique_ptr<NodeKind> kinds_[5];  // by Node::Kind
};

}  // namespace metafs::fs
