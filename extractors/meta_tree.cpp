#include "meta_tree.hpp"

#include <cstring>
#include <stdexcept>

#include "entry_name.hpp"

namespace metafs::extract {
namespace {

std::string index_key(NodeId parent, std::string_view name) {
  std::string key(sizeof parent, '\0');
  std::memcpy(key.data(), &parent, sizeof parent);
  key.append(name);
  return key;
}

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
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || c == '/' || c == '%' || c == '#') {
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
  name = unique_name(parent, std::move(name));
  auto id = static_cast<NodeId>(nodes_.size());
  index_.emplace(index_key(parent, name), id);
  MetaNode node;
  node.type = type;
  node.parent = parent;
  node.name = std::move(name);
  nodes_.push_back(std::move(node));
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
  return dir(parent, Verbatim{escape_name(name)});
}

NodeId MetaTree::dir(NodeId parent, Verbatim name) {
  NodeId found = name.name.size() <= kMaxTreeNameBytes
                     ? find(parent, name.name)
                     : find(parent, shorten_name(name.name, kMaxTreeNameBytes));
  if (found != kNotFound && nodes_[found].is_dir()) return found;
  return add_dir(parent, name);
}

NodeId MetaTree::add_value(NodeId parent, std::string_view name, std::string text, ValueKind kind) {
  return add_value(parent, Verbatim{escape_name(name)}, std::move(text), kind);
}

NodeId MetaTree::add_value(NodeId parent, Verbatim name, std::string text, ValueKind kind) {
  NodeId id = insert(parent, std::string(name.name), MetaNode::Type::kValue);
  nodes_[id].text = std::move(text);
  nodes_[id].kind = kind;
  return id;
}

NodeId MetaTree::add_list(NodeId parent, std::string_view name, std::vector<std::string> items,
                          ValueKind kind, std::string_view separator) {
  return add_list(parent, Verbatim{escape_name(name)}, std::move(items), kind, separator);
}

NodeId MetaTree::add_list(NodeId parent, Verbatim name, std::vector<std::string> items,
                          ValueKind kind, std::string_view separator) {
  NodeId id = add_value(parent, name, join(items, separator), kind);
  nodes_[id].items = std::move(items);
  nodes_[id].list = true;
  return id;
}

NodeId MetaTree::add_link(NodeId parent, std::string_view name, std::string target) {
  return add_link(parent, Verbatim{escape_name(name)}, std::move(target));
}

NodeId MetaTree::add_link(NodeId parent, Verbatim name, std::string target) {
  NodeId id = insert(parent, std::string(name.name), MetaNode::Type::kLink);
  nodes_[id].text = std::move(target);
  return id;
}

NodeId MetaTree::find(NodeId parent, std::string_view escaped_name) const {
  auto it = index_.find(index_key(parent, escaped_name));
  return it == index_.end() ? kNotFound : it->second;
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
  // The lookup index: roughly one key and one bucket entry per node.
  bytes += nodes_.size() * (sizeof(std::string) + sizeof(NodeId) + 32);
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
