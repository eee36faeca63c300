#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "meta_tree.hpp"

namespace metafs::extract {

// The longest file name an entry of fields/ may have (Linux NAME_MAX).
inline constexpr std::size_t kMaxEntryNameBytes = 255;
// The longest name a MetaTree keeps (after escaping). HDF5 allows names of any length; past
// this, even metadata.txt and metadata.json show the name shortened (header.txt shows it
// whole), so one absurd name never fails a file's whole cache record or worker reply.
inline constexpr std::size_t kMaxTreeNameBytes = 64 * 1024;

// The shortening rule for a name longer than `limit` bytes:
//
//   <prefix>#~<16 lower-case hex digits of XXH3-64(name, seed)>
//
// where the prefix is the longest start of `name` that fits in `limit` bytes together with the
// suffix, cut neither inside a UTF-8 sequence nor inside a %HH escape. A name that fits is
// returned unchanged. "#~" never appears in an escaped name (escaping turns '#' into %23, and
// MetaTree only appends '#' followed by digits), so a shortened name cannot be mistaken for,
// or collide with, a name from the file; names sharing a long prefix differ by their hash.
// Requires limit > 18.
std::string shorten_name(std::string_view name, std::size_t limit, std::uint64_t seed = 0);

// The file names of the children of directory `dir` as fields/ shows them, in the tree's child
// order: each name within kMaxEntryNameBytes by shorten_name. Names that fit are kept; if a
// shortened name is already taken among the siblings (possible only for a tree not built by
// MetaTree's escaping, e.g. a forged cache record), the seed is raised (1, 2, ...) until it is
// free, so the names stay unique and depend on the tree alone.
std::vector<std::string> entry_names(const MetaTree& tree, NodeId dir);

// Link targets with every component renamed as entry_names names it, so that a link resolves
// in fields/. Components that fit are kept; a long component that does not resolve in the
// tree is shortened with seed 0. The shortened names of each directory met are remembered, so
// many links into one large directory cost one pass over it, not one each.
class LinkTargets {
 public:
  explicit LinkTargets(const MetaTree& tree) : tree_(tree) {}
  std::string of(NodeId link);

 private:
  const std::string& entry_name(NodeId dir, NodeId child);

  const MetaTree& tree_;
  // directory -> (child -> entry name), long-named children only
  std::unordered_map<NodeId, std::unordered_map<NodeId, std::string>> shortened_;
};

// LinkTargets(tree).of(link), for a single link.
std::string entry_link_target(const MetaTree& tree, NodeId link);

}  // namespace metafs::extract
