#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace metafs::extract {

using NodeId = std::uint32_t;

// How a value maps to JSON. The text is always what the value's file shows.
enum class ValueKind : std::uint8_t { kString = 0, kNumber = 1, kBoolean = 2 };

// One node of a metadata tree. Nodes live in one vector owned by MetaTree and refer to each
// other by index, so a tree is cheap to encode and its nodes map directly to inode numbers.
struct MetaNode {
  enum class Type : std::uint8_t { kDirectory = 0, kValue = 1, kLink = 2 };

  Type type = Type::kDirectory;
  ValueKind kind = ValueKind::kString;  // kValue only
  NodeId parent = 0;                    // the root is its own parent
  std::string name;                     // already escaped; unique among its siblings
  std::string text;                     // kValue: the value; kLink: the relative target
  std::vector<std::string> items;       // kValue of add_list: a JSON array of `kind`
  bool list = false;                    // made by add_list: an array even with no items
  std::vector<NodeId> children;         // kDirectory: in insertion (file) order

  bool is_dir() const { return type == Type::kDirectory; }
};

// A name used exactly as given, for names an extractor reserves for itself (for example
// HDF5 object properties). The caller guarantees it is a valid file name that escaped
// names can never produce (see escape_name).
struct Verbatim {
  std::string_view name;
};

// The format-neutral metadata of one file: directories, values and symbolic links, in the
// order the extractor added them. Every name is made a safe, unique file name on insertion:
//   * '/', '%', '#', control bytes and DEL become %HH; "" becomes "%00"; "." and ".." become
//     "%2E" and "%2E%2E";
//   * a name already taken gets "#2", "#3", ... appended; one past 64 KiB is cut (entry_name.hpp).
class MetaTree {
 public:
  static constexpr NodeId kRoot = 0;

  MetaTree();

  // Always creates a new directory (a taken name gets a "#n" suffix).
  NodeId add_dir(NodeId parent, std::string_view name);
  NodeId add_dir(NodeId parent, Verbatim name);
  // Returns the directory `name` under `parent`, creating it when missing.
  NodeId dir(NodeId parent, std::string_view name);
  NodeId dir(NodeId parent, Verbatim name);

  NodeId add_value(NodeId parent, std::string_view name, std::string text,
                   ValueKind kind = ValueKind::kString);
  NodeId add_value(NodeId parent, Verbatim name, std::string text,
                   ValueKind kind = ValueKind::kString);
  // A multi-valued entry: its file shows the items joined by `separator`, its JSON is an
  // array.
  NodeId add_list(NodeId parent, std::string_view name, std::vector<std::string> items,
                  ValueKind kind, std::string_view separator);
  NodeId add_list(NodeId parent, Verbatim name, std::vector<std::string> items, ValueKind kind,
                  std::string_view separator);
  // A symbolic link; `target` is relative to the link's directory (e.g. "1" or "../x").
  NodeId add_link(NodeId parent, std::string_view name, std::string target);
  NodeId add_link(NodeId parent, Verbatim name, std::string target);

  // The child called `name` (an already escaped name), or std::nullopt-like kNotFound.
  static constexpr NodeId kNotFound = UINT32_MAX;
  NodeId find(NodeId parent, std::string_view escaped_name) const;

  // Room for `nodes` nodes in all (the root included) without growing the node vector or the
  // name index: a decoder that knows the count calls it first.
  void reserve(std::size_t nodes);

  const MetaNode& node(NodeId id) const { return nodes_.at(id); }
  std::size_t size() const { return nodes_.size(); }
  const std::vector<MetaNode>& nodes() const { return nodes_; }

  // The path of `id` below the root, names joined by '/'; "" for the root.
  std::string path(NodeId id) const;
  // Number of value nodes.
  std::size_t value_count() const;

  // Approximate heap bytes held by the tree, for memory accounting.
  std::size_t memory_bytes() const;

  friend bool operator==(const MetaTree& a, const MetaTree& b);

 private:
  NodeId insert(NodeId parent, std::string name, MetaNode::Type type);
  std::string unique_name(NodeId parent, std::string name) const;
  NodeId set_value(NodeId id, std::string text, ValueKind kind);
  NodeId find_dir(NodeId parent, std::string_view escaped_name) const;
  static std::uint32_t hash(NodeId parent, std::string_view name);
  NodeId find(NodeId parent, std::string_view escaped_name, std::uint32_t hash) const;
  void index(NodeId id);
  void rehash(std::size_t slot_count);

  std::vector<MetaNode> nodes_;
  // (parent, name) -> child, for lookups and uniqueness: an open-addressing table of node
  // ids (kNotFound when empty, at most half full) over the nodes' own names, so inserting
  // builds no key; hashes_[id] is node id's hash, kept for growing the table.
  std::vector<NodeId> slots_;
  std::vector<std::uint32_t> hashes_;
};

// The escaping rule described above, exposed for tests and documentation.
std::string escape_name(std::string_view name);

}  // namespace metafs::extract
