// /.metafs/query/<EXPR>/ (the data files matching EXPR, as symlinks to their directories in
// the mount) and /.metafs/errors (the files whose extraction failed). What they show depends
// on who asks: only files the caller could open in SOURCE, checked as the mirror checks an
// open (AsCaller, then the open beneath SOURCE). So nothing of theirs is cached by the kernel
// (timeouts 0) and each listing is made for its opendir.
#include <xxhash.h>

#include <climits>
#include <cstdio>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "filesystem.hpp"
#include "log.hpp"
#include "matcher.hpp"
#include "query_engine.hpp"

namespace metafs::fs {
namespace {

// A query directory lists at most this many files (a listing is held in memory while open).
constexpr std::size_t kMaxListed = 100000;
// From /.metafs/query/<EXPR>/<name> back to the mount's root.
constexpr std::string_view kLinkToRoot = "../../../";

// A result's name: its path below SOURCE with '%' as %25 and '/' as %2F (so the name is one
// file name and says where the file is).
std::string link_name(std::string_view rel) {
  std::string out;
  for (char c : rel) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// A result whose link_name would pass NAME_MAX (deep archives, trees named by DICOM UIDs) is
// named "%~" + 32 hex digits of XXH3-128 of its path (canonical, big-endian: the hash the
// cache keys records by) + the end of its link_name, from a %2F on where one fits (so the name
// still ends with the file's own name); link_name never makes "%~". Such a name is resolved
// through the cache (MetadataCache::stored_path), with no table to keep.
constexpr std::string_view kLongMark = "%~";
constexpr std::size_t kDigestHex = 2 * sizeof(XXH128_canonical_t);

std::string result_name(std::string_view rel) {
  std::string name = link_name(rel);
  if (name.size() <= NAME_MAX) return name;
  XXH128_canonical_t hash;
  XXH128_canonicalFromHash(&hash, XXH3_128bits(rel.data(), rel.size()));
  char digest[kDigestHex + 1];
  for (std::size_t i = 0; i < sizeof hash.digest; ++i) {
    std::snprintf(digest + 2 * i, 3, "%02x", static_cast<unsigned>(hash.digest[i]));
  }
  std::string out = std::string(kLongMark) + digest;
  const std::size_t room = NAME_MAX - out.size();
  std::size_t start = rel.size();
  for (std::size_t len = 0; start > 0; --start) {
    const char c = rel[start - 1];
    const std::size_t add = c == '%' || c == '/' ? 3 : 1;
    if (len + add > room) break;
    len += add;
  }
  std::string_view tail = rel.substr(start);
  if (std::size_t slash = tail.find('/'); slash != std::string_view::npos) {
    tail.remove_prefix(slash);  // from a whole path component on
  } else {
    while (!tail.empty() && (static_cast<unsigned char>(tail.front()) & 0xC0) == 0x80) {
      tail.remove_prefix(1);  // from a whole UTF-8 character on
    }
  }
  return out + link_name(tail);
}

// The path hash a long name (result_name) carries, as 16 bytes; false for another name.
bool long_name_hash(std::string_view name, std::string* hash) {
  if (!name.starts_with(kLongMark) || name.size() < kLongMark.size() + kDigestHex) return false;
  hash->clear();
  for (std::size_t i = kLongMark.size(); i < kLongMark.size() + kDigestHex; i += 2) {
    unsigned byte = 0;
    for (char c : name.substr(i, 2)) {
      int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (v < 0) return false;
      byte = byte << 4 | static_cast<unsigned>(v);
    }
    hash->push_back(static_cast<char>(byte));
  }
  return true;
}

// The inverse of link_name; false for a name link_name never makes.
bool link_rel(std::string_view name, std::string* rel) {
  rel->clear();
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] != '%') {
      rel->push_back(name[i]);
      continue;
    }
    std::string_view hex = name.substr(i + 1, 2);
    if (hex == "25") {
      rel->push_back('%');
    } else if (hex == "2F") {
      rel->push_back('/');
    } else {
      return false;
    }
    i += 2;
  }
  return !rel->empty() && rel->front() != '/' && rel->find("//") == std::string::npos;
}

std::string caller_key(const Caller& caller) {
  std::string key = std::to_string(caller.uid) + ":" + std::to_string(caller.gid);
  for (gid_t g : caller.groups) {
    key += ',';  // not `"," + std::to_string(g)`: GCC 12 -O3 warns (-Wrestrict) on that form
    key += std::to_string(g);
  }
  return key;
}

}  // namespace

class QueryNodes final : public NodeKind {
 public:
  using NodeKind::NodeKind;

  int lookup(const Node& dir, const std::string& name, fuse_entry_param* entry) override {
    if (dir.query_role == Node::QueryRole::kRoot) {
      try {
        query::Query parsed = query::parse_query_name(name);
        for (const auto& e : parsed.any_of[0]) query::ValueTest check(e);
      } catch (const query::QueryError& e) {
        log::fs()->debug("query {}: {}", name, e.what());
        return EINVAL;
      }
      return reply(fs_.inodes_.acquire_query(Node::QueryRole::kResults, name, ""), entry);
    }
    if (dir.query_role != Node::QueryRole::kResults) return ENOTDIR;
    std::string rel;
    const bool long_name = name.starts_with(kLongMark);
    if (long_name) {
      if (!long_rel(name, &rel)) return ENOENT;
    } else if (!link_rel(name, &rel)) {
      return ENOENT;
    }
    // readdirplus: the listing was made for this caller (a long name's path came from the
    // cache by its digest, so it is checked as any name is)
    if (RequestScope::listed() && !long_name) {
      return reply(fs_.inodes_.acquire_query(Node::QueryRole::kLink, dir.query, rel), entry);
    }
    Caller caller = RequestScope::caller();
    struct stat st {};
    if (!readable(caller, rel, &st)) return ENOENT;
    if (!matches(query::parse_query_name(dir.query), rel, st)) return ENOENT;
    return reply(fs_.inodes_.acquire_query(Node::QueryRole::kLink, dir.query, rel), entry);
  }

  int getattr(const Node& node, struct stat* st, double* timeout) override {
    *st = {};
    st->st_ino = node.ino;
    st->st_uid = ::getuid();
    st->st_gid = ::getgid();
    st->st_mtim = st->st_ctim = st->st_atim = fs_.started_;
    *timeout = 0;
    switch (node.query_role) {
      case Node::QueryRole::kRoot:
      case Node::QueryRole::kResults:
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
        break;
      case Node::QueryRole::kLink:
        st->st_mode = S_IFLNK | 0777;
        st->st_nlink = 1;
        st->st_size = static_cast<off_t>(kLinkToRoot.size() + node.rel_path.size());
        break;
      case Node::QueryRole::kErrors: {
        st->st_mode = S_IFREG | 0444;
        st->st_nlink = 1;
        st->st_size = static_cast<off_t>(errors_of(node)->size());
        break;
      }
    }
    return 0;
  }

  int readlink(const Node& node, std::string* target) override {
    if (node.query_role != Node::QueryRole::kLink) return EINVAL;
    *target = std::string(kLinkToRoot) + node.rel_path;
    return 0;
  }

  int opendir(const Node& node, const std::function<Caller()>& caller,
              DirListing* listing) override {
    if (node.query_role == Node::QueryRole::kRoot) return 0;  // queries are named, not listed
    if (node.query_role != Node::QueryRole::kResults) return ENOTDIR;
    std::vector<query::QueryFile> found;
    if (int err = run(query::parse_query_name(node.query), caller(), &found)) return err;
    for (const query::QueryFile& f : found) {
      listing->entries.push_back({result_name(f.path), InodeTable::kFirstDynamicIno, S_IFLNK});
    }
    return 0;
  }

  int open(const Node& node, const std::function<Caller()>&, extract::FileDescriptor*,
           OpenedFile* opened) override {
    if (node.query_role != Node::QueryRole::kErrors) return EISDIR;
    opened->keep_cache = false;  // rendered anew on every lookup, for its caller
    return 0;
  }

  int open_for_read(const Node& node, ReadSource* source) override {
    if (node.query_role != Node::QueryRole::kErrors) return EISDIR;
    source->bytes = errors_of(node);
    return 0;
  }

  int access_acl(const Node&, std::string*) override { return ENODATA; }

  // /.metafs/query, or /.metafs/errors rendered for the current request's caller.
  int lookup_top(Node::QueryRole role, fuse_entry_param* entry) {
    if (role == Node::QueryRole::kRoot) {
      return reply(fs_.inodes_.acquire_query(Node::QueryRole::kRoot, "", ""), entry);
    }
    Caller caller = RequestScope::caller();
    std::string key = caller_key(caller);
    auto text = std::make_shared<std::string>();
    std::vector<query::QueryFile> found;
    query::Query errors = query::parse_query({std::string(query::kErrorField) + "?"});
    if (int err = run(errors, caller, &found)) return err;
    if (fs_.cache_) {
      query::QueryEngine engine(*fs_.cache_);
      engine.decode(found, [&](const query::QueryFile& f, const extract::Extraction& x) {
        *text += f.path + "\t" + query::printed_value(x.error) + "\n";
      });
    }
    {
      std::lock_guard lock(mutex_);
      errors_[key] = std::move(text);
    }
    return reply(fs_.inodes_.acquire_query(Node::QueryRole::kErrors, key, ""), entry);
  }

 private:
  int reply(const std::shared_ptr<const Node>& node, fuse_entry_param* entry) {
    double timeout = 0;
    getattr(*node, &entry->attr, &timeout);
    entry->ino = node->ino;
    entry->attr_timeout = 0;
    entry->entry_timeout = 0;  // the answer depends on who asks, and on the cache
    return 0;
  }

  // The path long result name `name` (result_name) stands for: a path the cache has a record
  // of under the name's digest, and whose own long name it is.
  bool long_rel(const std::string& name, std::string* rel) {
    std::string hash;
    if (!fs_.cache_ || !long_name_hash(name, &hash)) return false;
    std::optional<std::string> path = fs_.cache_->stored_path(hash);
    if (!path) {
      fs_.cache_->flush();  // a record just extracted, too
      path = fs_.cache_->stored_path(hash);
    }
    if (!path || result_name(*path) != name) return false;
    *rel = std::move(*path);
    return true;
  }

  std::shared_ptr<const std::string> errors_of(const Node& node) {
    std::lock_guard lock(mutex_);
    auto it = errors_.find(node.query);
    return it == errors_.end() ? std::make_shared<const std::string>() : it->second;
  }

  // `rel` is a regular file that `caller` may open in SOURCE, as the mirror opens one;
  // `*st` its lstat.
  bool readable(const Caller& caller, const std::string& rel, struct stat* st) {
    if (fs_.source_.lstat(rel, st) < 0 || !S_ISREG(st->st_mode)) return false;
    extract::FileDescriptor fd;
    {
      AsCaller as(caller);
      if (!as.ok()) return false;
      fd = fs_.source_.open_file(rel);
    }
    if (!fd.valid()) return false;
    struct stat opened {};
    return ::fstat(fd.get(), &opened) == 0 && opened.st_dev == st->st_dev &&
           opened.st_ino == st->st_ino;
  }

  // Whether the current version of `rel` satisfies `parsed` (extracted if it is not cached).
  bool matches(const query::Query& parsed, const std::string& rel, const struct stat& st) {
    std::shared_ptr<const extraction::DataVersion> version;
    std::shared_ptr<const extraction::DataView> view;
    if (fs_.data_view(rel, st, &version, &view) != 0) return false;
    for (const auto& group : parsed.any_of) {
      bool all = true;
      for (const auto& e : group) {
        all = all && query::matches(view->extraction(), query::ValueTest(e));
      }
      if (all) return true;
    }
    return false;
  }

  // The files matching `parsed` whose cached version is current and that `caller` may read.
  int run(const query::Query& parsed, const Caller& caller, std::vector<query::QueryFile>* out) {
    if (!fs_.cache_) return 0;  // --no-cache: nothing to look in
    fs_.cache_->flush();        // what was just extracted, too
    query::QueryEngine engine(*fs_.cache_);
    std::size_t accepted = 0;
    try {
      *out = engine.run(parsed, [&](const std::string& rel, const cache::SourceSignature& sig) {
        if (accepted >= kMaxListed) return false;
        struct stat st {};
        if (fs_.source_.lstat(rel, &st) < 0 || !S_ISREG(st.st_mode) ||
            !(cache::SourceSignature::from_stat(st) == sig)) {
          return false;
        }
        if (!readable(caller, rel, &st)) return false;
        ++accepted;
        return true;
      });
    } catch (const query::QueryError&) {
      return EINVAL;
    }
    if (out->size() > kMaxListed) out->resize(kMaxListed);
    return 0;
  }

  std::mutex mutex_;
  // /.metafs/errors as last rendered for each identity (caller_key).
  std::unordered_map<std::string, std::shared_ptr<const std::string>> errors_;
};

std::unique_ptr<NodeKind> make_query_nodes(Filesystem& fs) {
  return std::make_unique<QueryNodes>(fs);
}

int Filesystem::lookup_query_node(Node::QueryRole role, fuse_entry_param* entry) {
  return static_cast<QueryNodes&>(*kinds_[static_cast<std::size_t>(Node::Kind::kQuery)])
      .lookup_top(role, entry);
}

}  // namespace metafs::fs
