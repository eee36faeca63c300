#include "entry_name.hpp"

#include <xxhash.h>

#include <stdexcept>
#include <unordered_set>

namespace metafs::extract {
namespace {

constexpr std::string_view kMarker = "#~";
constexpr std::size_t kHashDigits = 16;
constexpr std::size_t kSuffixBytes = kMarker.size() + kHashDigits;

bool continuation_byte(char c) {
  return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

// The largest cut <= `at` that splits neither a UTF-8 sequence nor a %HH escape. Invalid
// UTF-8 moves the cut back by at most three bytes.
std::size_t safe_cut(std::string_view name, std::size_t at) {
  std::size_t cut = at;
  for (int i = 0; i < 3 && cut > 0 && cut < name.size() && continuation_byte(name[cut]); ++i) {
    --cut;
  }
  if (cut >= 1 && name[cut - 1] == '%') return cut - 1;
  if (cut >= 2 && name[cut - 2] == '%') return cut - 2;
  return cut;
}

std::vector<std::string_view> split_target(std::string_view target) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = target.find('/', start);
    parts.push_back(target.substr(start, slash - start));
    if (slash == std::string_view::npos) return parts;
    start = slash + 1;
  }
}

}  // namespace

std::string shorten_name(std::string_view name, std::size_t limit, std::uint64_t seed) {
  if (name.size() <= limit) return std::string(name);
  if (limit <= kSuffixBytes) throw std::invalid_argument("shorten_name: limit too small");
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t hash = XXH3_64bits_withSeed(name.data(), name.size(), seed);
  std::string out(name.substr(0, safe_cut(name, limit - kSuffixBytes)));
  out.append(kMarker);
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(hash >> shift) & 0xf]);
  return out;
}

std::vector<std::string> entry_names(const MetaTree& tree, NodeId dir) {
  const auto& children = tree.node(dir).children;
  std::vector<std::string> names;
  names.reserve(children.size());
  bool any_long = false;
  for (NodeId child : children) {
    names.push_back(tree.node(child).name);
    any_long = any_long || names.back().size() > kMaxEntryNameBytes;
  }
  if (!any_long) return names;

  // Names that fit are final and unique already; long ones take the first free seed.
  std::unordered_set<std::string> taken;
  for (const std::string& name : names) {
    if (name.size() <= kMaxEntryNameBytes) taken.insert(name);
  }
  for (std::string& name : names) {
    if (name.size() <= kMaxEntryNameBytes) continue;
    for (std::uint64_t seed = 0;; ++seed) {
      std::string candidate = shorten_name(name, kMaxEntryNameBytes, seed);
      if (taken.insert(candidate).second) {
        name = std::move(candidate);
        break;
      }
    }
  }
  return names;
}

const std::string& LinkTargets::entry_name(NodeId dir, NodeId child) {
  auto [it, fresh] = shortened_.try_emplace(dir);
  if (fresh) {
    const auto& children = tree_.node(dir).children;
    std::vector<std::string> names = entry_names(tree_, dir);
    for (std::size_t i = 0; i < children.size(); ++i) {
      if (tree_.node(children[i]).name.size() > kMaxEntryNameBytes) {
        it->second.emplace(children[i], std::move(names[i]));
      }
    }
  }
  return it->second.at(child);
}

std::string LinkTargets::of(NodeId link) {
  const MetaNode& node = tree_.node(link);
  std::vector<std::string_view> parts = split_target(node.text);
  bool any_long = false;
  for (std::string_view part : parts) any_long = any_long || part.size() > kMaxEntryNameBytes;
  if (!any_long) return node.text;

  // Walk the target through the tree while it resolves, so each long component gets the name
  // its directory's listing gives it.
  NodeId at = node.parent;
  bool resolved = node.text.empty() || node.text.front() != '/';
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string_view part = parts[i];
    NodeId child = MetaTree::kNotFound;
    if (resolved && part != ".." && part != "." && !part.empty()) child = tree_.find(at, part);
    if (i != 0) out.push_back('/');
    if (part.size() <= kMaxEntryNameBytes) {
      out.append(part);
    } else if (child != MetaTree::kNotFound) {
      out.append(entry_name(at, child));
    } else {
      out.append(shorten_name(part, kMaxEntryNameBytes));
    }
    if (!resolved) continue;
    if (part == "..") {
      resolved = at != MetaTree::kRoot;  // above fields/: nothing of the tree
      at = tree_.node(at).parent;
    } else if (part != "." && !part.empty()) {
      resolved = child != MetaTree::kNotFound && tree_.node(child).is_dir();
      at = child;
    }
  }
  return out;
}

std::string entry_link_target(const MetaTree& tree, NodeId link) {
  return LinkTargets(tree).of(link);
}

}  // namespace metafs::extract
