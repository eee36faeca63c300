#pragma once

#include <fuse_lowlevel.h>
#include <sys/stat.h>

#include <functional>
#include <memory>
#include <string>

#include "caller_credentials.hpp"
#include "node.hpp"
#include "source_file.hpp"

namespace metafs::fs {

// The control directory's name in the mount's root.
inline constexpr const char* kControlDirName = ".metafs";
// In /.metafs: the query directories and the error list (query_nodes.cpp).
inline constexpr const char* kQueryDirName = "query";
inline constexpr const char* kErrorsFileName = "errors";
// A view is an immutable snapshot: its attributes never change under the same inode.
inline constexpr double kSnapshotTimeout = 3600.0;

class Filesystem;
struct DirListing;
struct ReadSource;
struct OpenedFile;

// How one kind of node (Node::Kind) is served: a mirrored path, an entry of a data file's
// view, /.metafs, a file in it. Filesystem::served_by() is the one place that picks the kind's
// server for a node; each function returns 0 or a positive errno, like Filesystem's.
class NodeKind {
 public:
  explicit NodeKind(Filesystem& fs) : fs_(fs) {}
  virtual ~NodeKind() = default;
  NodeKind(const NodeKind&) = delete;
  NodeKind& operator=(const NodeKind&) = delete;

  virtual int lookup(const Node& dir, const std::string& name, fuse_entry_param* entry) = 0;
  virtual int getattr(const Node& node, struct stat* st, double* timeout) = 0;
  virtual int readlink(const Node& node, std::string* target) = 0;
  // Adds the entries after "." and "..".
  virtual int opendir(const Node& node, const Caller& caller, DirListing* listing) = 0;
  virtual int open(const Node& node, const std::function<Caller()>& caller,
                   extract::FileDescriptor* fd, OpenedFile* opened) = 0;
  virtual int open_for_read(const Node& node, ReadSource* source) = 0;
  // The access ACL the node shows; ENODATA when none.
  virtual int access_acl(const Node& node, std::string* value) = 0;

 protected:
  Filesystem& fs_;
};

std::unique_ptr<NodeKind> make_mirror_nodes(Filesystem& fs);        // mirror_nodes.cpp
std::unique_ptr<NodeKind> make_view_nodes(Filesystem& fs);          // view_nodes.cpp
std::unique_ptr<NodeKind> make_control_dir_node(Filesystem& fs);    // control_nodes.cpp
std::unique_ptr<NodeKind> make_control_file_nodes(Filesystem& fs);  // control_nodes.cpp
std::unique_ptr<NodeKind> make_query_nodes(Filesystem& fs);         // query_nodes.cpp

}  // namespace metafs::fs
