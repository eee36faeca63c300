#include "meta_tree.hpp"

#include <algorithm>
#include <functional>
#include <stdexcept>

#include "byte_scan.hpp"
#include "entry_name.hpp"

namespace metafs::extract {
namespace {

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out.append(separator);
    out.append(items[i]);
  }
  return out;
}

}  // namespace

std::string escape_name(std::string_view name) {
  if (name.empty()) return "%00";
  if (name == ".") return "%2E";
  if (name == "..") return "%2E%2E";
  static constexpr char kHex[] = "0123456789ABCDEF";
  auto escaped = [](unsigned char byte) {
    return (byte < 0x20) | (byte == 0x7f) | (byte == '/') | (byte == '%') | (byte == '#');
  };
  // Most names need no escaping: copy them whole.
  if (!any_byte(name, escaped)) return std::string(name);
  std::size_t first = 0;
  while (!escaped(static_cast<unsigned char>(name[first]))) ++first;
  std::string out;
  out.reserve(name.size() + 8);
  out.append(name.substr(0, first));
  for (char c : name.substr(first)) {
    auto byte = static_cast<unsigned char>(c);
    if (escaped(byte)) {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

MetaTree::MetaTree() {
  MetaNode root;
  root.type = MetaNode::Type::kDirectory;
  root.parent = kRoot;
  nodes_.push_back(std::move(root));
  hashes_.push_back(0);  // the root is nobody's child: never in the table
  slots_.assign(16, kNotFound);
}

std::uint32_t MetaTree::hash(NodeId parent, std::string_view name) {
  std::uint64_t h = std::hash<std::string_view>{}(name) ^ (parent * 0x9E3779B97F4A7C15ull);
  return static_cast<std::uint32_t>(h ^ (h >> 32));
}

void MetaTree::rehash(std::size_t slot_count) {
  std::vector<NodeId> grown(slot_count, kNotFound);
  std::size_t mask = grown.size() - 1;
  for (NodeId old : slots_) {
    if (old == kNotFound) continue;
    std::size_t i = hashes_[old] & mask;
    while (grown[i] != kNotFound) i = (i + 1) & mask;
    grown[i] = old;
  }
  slots_ = std::move(grown);
}

void MetaTree::reserve(std::size_t nodes) {
  nodes_.reserve(nodes);
  hashes_.reserve(nodes);
  std::size_t slots = std::max<std::size_t>(slots_.size(), 16);  // a moved-from tree has none
  while (nodes * 2 > slots) slots *= 2;                          // index() grows past half full
  if (slots != slots_.size()) rehash(slots);
}

void MetaTree::index(NodeId id) {
  if ((nodes_.size() - 1) * 2 > slots_.size()) rehash(slots_.size() * 2);
  std::size_t mask = slots_.size() - 1;
  std::size_t i = hashes_[id] & mask;
  while (slots_[i] != kNotFound) i = (i + 1) & mask;
  slots_[i] = id;
}

NodeId MetaTree::find(NodeId parent, std::string_view escaped_name, std::uint32_t h) const {
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    NodeId id = slots_[i];
    if (id == kNotFound) return kNotFound;
    const MetaNode& node = nodes_[id];
    if (hashes_[id] == h && node.parent == parent && node.name == escaped_name) return id;
  }
}

std::string MetaTree::unique_name(NodeId parent, std::string name) const {
  if (name.size() > kMaxTreeNameBytes) name = shorten_name(name, kMaxTreeNameBytes);
  if (find(parent, name) == kNotFound) return name;
  for (std::size_t n = 2;; ++n) {
    std::string candidate = shorten_name(name + "#" + std::to_string(n), kMaxTreeNameBytes);
    if (find(parent, candidate) == kNotFound) return candidate;
  }
}

NodeId MetaTree::insert(NodeId parent, std::string name, MetaNode::Type type) {
  if (parent >= nodes_.size() || !nodes_[parent].is_dir()) {
    throw std::logic_error("MetaTree: parent is not a directory");
  }
  // The usual case, a free name of allowed length, hashes the name once.
  std::uint32_t h = 0;
  if (name.size() > kMaxTreeNameBytes || find(parent, name, h = hash(parent, name)) != kNotFound) {
    name = unique_name(parent, std::move(name));
    h = hash(parent, name);
  }
  auto id = static_cast<NodeId>(nodes_.size());
  hashes_.push_back(h);
  try {
    nodes_.emplace_back();
  } catch (...) {
    hashes_.pop_back();
    throw;
  }
  MetaNode& node = nodes_.back();
  node.type = type;
  node.parent = parent;
  node.name = std::move(name);
  index(id);
  nodes_[parent].children.push_back(id);
  return id;
}

NodeId MetaTree::add_dir(NodeId parent, std::string_view name) {
  return insert(parent, escape_name(name), MetaNode::Type::kDirectory);
}

NodeId MetaTree::add_dir(NodeId parent, Verbatim name) {
  return insert(parent, std::string(name.name), MetaNode::Type::kDirectory);
}

NodeId MetaTree::dir(NodeId parent, std::string_view name) {
  std::string escaped = escape_name(name);
  NodeId found = find_dir(parent, escaped);
  if (found != kNotFound) return found;
  return insert(parent, std::move(escaped), MetaNode::Type::kDirectory);
}

NodeId MetaTree::dir(NodeId parent, Verbatim name) {
  NodeId found = find_dir(parent, name.name);
  if (found != kNotFound) return found;
  return add_dir(parent, name);
}

NodeId MetaTree::find_dir(NodeId parent, std::string_view escaped_name) const {
  NodeId found = escaped_name.size() <= kMaxTreeNameBytes
                     ? find(parent, escaped_name)
                     : find(parent, shorten_name(escaped_name, kMaxTreeNameBytes));
  return found != kNotFound && nodes_[found].is_dir() ? found : kNotFound;
}

NodeId MetaTree::add_value(NodeId parent, std::string_view name, std::string text, ValueKind kind) {
  return set_value(insert(parent, escape_name(name), MetaNode::Type::kValue), std::move(text),
                   kind);
}

NodeId MetaTree::add_value(NodeId parent, Verbatim name, std::string text, ValueKind kind) {
  return set_value(insert(parent, std::string(name.name), MetaNode::Type::kValue), std::move(text),
                   kind);
}

NodeId MetaTree::set_value(NodeId id, std::string text, ValueKind kind) {
  nodes_[id].text = std::move(text);
  nodes_[id].kind = kind;
  return id;
}

NodeId MetaTree::add_list(NodeId parent, std::string_view name, std::vector<std::string> items,
                          ValueKind kind, std::string_view separator) {
  NodeId id = set_value(insert(parent, escape_name(name), MetaNode::Type::kValue),
                        join(items, separator), kind);
  nodes_[id].items = std::move(items);
  nodes_[id].list = true;
  return id;
}

NodeId MetaTree::add_list(NodeId parent, Verbatim name, std::vector<std::string> items,
                          ValueKind kind, std::string_view separator) {
  NodeId id = add_value(parent, name, join(items, separator), kind);
  nodes_[id].items = std::move(items);
  nodes_[id].list = true;
  return id;
}

NodeId MetaTree::add_link(NodeId parent, std::string_view name, std::string target) {
  NodeId id = insert(parent, escape_name(name), MetaNode::Type::kLink);
  nodes_[id].text = std::move(target);
  return id;
}

NodeId MetaTree::add_link(NodeId parent, Verbatim name, std::string target) {
  NodeId id = insert(parent, std::string(name.name), MetaNode::Type::kLink);
  nodes_[id].text = std::move(target);
  return id;
}

NodeId MetaTree::find(NodeId parent, std::string_view escaped_name) const {
  return find(parent, escaped_name, hash(parent, escaped_name));
}

std::string MetaTree::path(NodeId id) const {
  std::vector<NodeId> chain;
  while (id != kRoot) {
    chain.push_back(id);
    id = nodes_.at(id).parent;
  }
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (!out.empty()) out.push_back('/');
    out.append(nodes_[*it].name);
  }
  return out;
}

std::size_t MetaTree::value_count() const {
  std::size_t n = 0;
  for (const auto& node : nodes_) n += node.type == MetaNode::Type::kValue ? 1 : 0;
  return n;
}

std::size_t MetaTree::memory_bytes() const {
  std::size_t bytes = sizeof(*this) + nodes_.capacity() * sizeof(MetaNode);
  for (const auto& node : nodes_) {
    bytes +=
        node.name.capacity() + node.text.capacity() + node.children.capacity() * sizeof(NodeId);
    for (const auto& item : node.items) bytes += sizeof(item) + item.capacity();
  }
  // The lookup index.
  bytes += slots_.capacity() * sizeof(NodeId) + hashes_.capacity() * sizeof(std::uint32_t);
  return bytes;
}

bool operator==(const MetaTree& a, const MetaTree& b) {
  if (a.nodes_.size() != b.nodes_.size()) return false;
  for (std::size_t i = 0; i < a.nodes_.size(); ++i) {
    const MetaNode& x = a.nodes_[i];
    const MetaNode& y = b.nodes_[i];
    if (x.type != y.type || x.kind != y.kind || x.parent != y.parent || x.name != y.name ||
        x.text != y.text || x.items != y.items || x.list != y.list || x.children != y.children) {
      return false;
    }
  }
  return true;
}

}  // namespace metafs::extract
