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
// named "%~" + 16 hex digits of XXH3-64 of its path + the end of its link_name, from a %2F on
// where one fits (so the name still ends with the file's own name); link_name never makes
// "%~". Such a name is found again through long_names_ or by running the query again.
constexpr std::string_view kLongMark = "%~";

std::string result_name(std::string_view rel) {
  std::string name = link_name(rel);
  if (name.size() <= NAME_MAX) return name;
  char digest[17];
  std::snprintf(digest, sizeof digest, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(rel.data(), rel.size())));
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
  for (gid_t g : caller.groups) key += "," + std::to_string(g);
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
      if (!long_rel(dir, name, RequestScope::caller(), &rel)) return ENOENT;
    } else if (!link_rel(name, &rel)) {
      return ENOENT;
    }
    // readdirplus: the listing was made for this caller (a long name is checked again: its
    // path came from a digest)
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
      std::string name = result_name(f.path);
      if (name.starts_with(kLongMark)) remember_long_name(name, f.path);
      listing->entries.push_back({std::move(name), InodeTable::kFirstDynamicIno, S_IFLNK});
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

  void remember_long_name(const std::string& name, const std::string& rel) {
    std::lock_guard lock(mutex_);
    if (long_names_.size() >= kMaxLongNames) long_names_.clear();
    long_names_[name] = rel;
  }

  // The path a long result name (result_name) stands for in query directory `dir`: as last
  // listed, else found by running the query again for `caller`. The caller's right to it is
  // checked afterwards, as for any name.
  bool long_rel(const Node& dir, const std::string& name, const Caller& caller, std::string* rel) {
    {
      std::lock_guard lock(mutex_);
      auto it = long_names_.find(name);
      if (it != long_names_.end()) {
        *rel = it->second;
        return result_name(*rel) == name;
      }
    }
    std::vector<query::QueryFile> found;
    if (run(query::parse_query_name(dir.query), caller, &found) != 0) return false;
    for (const query::QueryFile& f : found) {
      if (result_name(f.path) == name) {
        *rel = f.path;
        remember_long_name(name, f.path);
        return true;
      }
    }
    return false;
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

  // Bounds long_names_ (cleared when full; a name not in it is found by a query).
  static constexpr std::size_t kMaxLongNames = 10000;

  std::mutex mutex_;
  // Long result names (result_name) as listed: name -> path below SOURCE.
  std::unordered_map<std::string, std::string> long_names_;
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
