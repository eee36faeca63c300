#include "inode_table.hpp"

#include <cstring>
#include <functional>

#include "extraction/source_tree.hpp"
#include "log.hpp"

namespace metafs::fs {
namespace {

// Heap bytes of one mirrored node besides its path (held twice: the node and the key): the
// Node and its control block, two hash-map entries, the order entry. Measured with the
// allocator's usable sizes on x86-64 (glibc); an estimate, for a budget.
constexpr std::uint64_t kMirrorNodeBytes = 320;
// One version slot besides its paths (the DataVersion with its stat, two map entries).
constexpr std::uint64_t kVersionBytes = 360;

// The by_key_ key of a mirrored path.
std::string mirror_key(std::string_view rel) {
  std::string key = "M";
  key += rel;
  return key;
}

std::uint64_t mirror_bytes(const std::string& rel) {
  return kMirrorNodeBytes + 2 * rel.size();
}

std::uint64_t version_bytes(const extraction::DataVersion& version) {
  return kVersionBytes + version.rel.size() + version.key.size();
}

}  // namespace

InodeTable::InodeTable() {
  auto root = std::make_shared<Node>();
  root->ino = kRootIno;
  root->kind = Node::Kind::kMirror;
  add_permanent(root);
  by_key_.emplace(mirror_key(""), kRootIno);

  auto control = std::make_shared<Node>();
  control->ino = kControlDirIno;
  control->kind = Node::Kind::kControlDir;
  add_permanent(control);
  for (ControlFile file : kControlFiles) {
    auto node = std::make_shared<Node>();
    node->ino = kFirstControlFileIno + static_cast<fuse_ino_t>(file);
    node->kind = Node::Kind::kControlFile;
    node->control = file;
    add_permanent(node);
  }
}

void InodeTable::add_permanent(std::shared_ptr<Node> node) {
  fuse_ino_t ino = node->ino;
  by_ino_.emplace(ino, Slot{std::move(node), 0, "", true});
}

std::shared_ptr<const Node> InodeTable::get(fuse_ino_t ino) const {
  std::lock_guard lock(mutex_);
  if (ino & kVirtualBit) {
    auto it = versions_.find((ino & ~kVirtualBit) >> kEntryBits);
    if (it == versions_.end()) return nullptr;
    auto node = std::make_shared<Node>();
    node->ino = ino;
    node->kind = Node::Kind::kVirtual;
    node->version = it->second.version;
    node->entry = static_cast<extraction::DataView::EntryId>(ino & (kMaxEntries - 1));
    return node;
  }
  auto it = by_ino_.find(ino);
  return it == by_ino_.end() ? nullptr : it->second.node;
}

std::shared_ptr<const Node> InodeTable::acquire(std::string key,
                                                const std::function<void(Node&)>& init) {
  std::lock_guard lock(mutex_);
  auto found = by_key_.find(key);
  if (found != by_key_.end()) {
    Slot& slot = by_ino_.at(found->second);
    ++slot.lookups;
    return slot.node;
  }
  auto node = std::make_shared<Node>();
  node->ino = next_ino_++;
  init(*node);
  bytes_ += mirror_bytes(node->rel_path);
  order_.push_back(node->ino);
  by_key_.emplace(key, node->ino);
  auto [it, inserted] = by_ino_.emplace(node->ino, Slot{node, 1, std::move(key), false});
  return it->second.node;
}

std::shared_ptr<const Node> InodeTable::acquire_mirror(const std::string& rel_path) {
  if (rel_path.empty()) return get(kRootIno);
  return acquire(mirror_key(rel_path), [&](Node& node) {
    node.kind = Node::Kind::kMirror;
    node.rel_path = rel_path;
  });
}

std::shared_ptr<const Node> InodeTable::acquire_virtual(
    const std::shared_ptr<const extraction::DataVersion>& version,
    extraction::DataView::EntryId entry) {
  std::lock_guard lock(mutex_);
  auto [found, inserted] = version_slots_.try_emplace(version.get(), next_version_slot_);
  if (inserted) {
    versions_.emplace(next_version_slot_++, VersionSlot{version, 0});
    bytes_ += version_bytes(*version);
  }
  ++versions_.at(found->second).lookups;
  auto node = std::make_shared<Node>();
  node->ino = kVirtualBit | (found->second << kEntryBits) | entry;
  node->kind = Node::Kind::kVirtual;
  node->version = version;
  node->entry = entry;
  return node;
}

std::shared_ptr<const Node> InodeTable::acquire_query(Node::QueryRole role,
                                                      const std::string& query,
                                                      const std::string& rel_path) {
  std::string key = "Q";
  key.push_back(static_cast<char>('0' + static_cast<int>(role)));
  key += query;
  key.push_back('\0');
  key += rel_path;
  return acquire(std::move(key), [&](Node& node) {
    node.kind = Node::Kind::kQuery;
    node.query_role = role;
    node.query = query;
    node.rel_path = rel_path;
  });
}

fuse_ino_t InodeTable::find_mirror(const std::string& rel_path) const {
  std::lock_guard lock(mutex_);
  auto it = by_key_.find(mirror_key(rel_path));
  return it == by_key_.end() ? 0 : it->second;
}

std::vector<fuse_ino_t> InodeTable::mirror_inodes() const {
  std::lock_guard lock(mutex_);
  std::vector<fuse_ino_t> inodes;
  inodes.reserve(by_key_.size());
  for (const auto& [key, ino] : by_key_) inodes.push_back(ino);
  return inodes;
}

std::shared_ptr<const Node> InodeTable::forget(fuse_ino_t ino, std::uint64_t count) {
  std::lock_guard lock(mutex_);
  if (ino & kVirtualBit) {
    auto it = versions_.find((ino & ~kVirtualBit) >> kEntryBits);
    if (it == versions_.end()) return nullptr;
    VersionSlot& slot = it->second;
    if (count > slot.lookups) {
      log::fs()->error("forget of inode {} by {} exceeds its version's lookup count {}", ino, count,
                       slot.lookups);
      count = slot.lookups;
    }
    slot.lookups -= count;
    if (slot.lookups == 0) {
      bytes_ -= std::min(bytes_, version_bytes(*slot.version));
      version_slots_.erase(slot.version.get());
      versions_.erase(it);
    }
    return nullptr;
  }
  auto it = by_ino_.find(ino);
  if (it == by_ino_.end() || it->second.permanent) return nullptr;
  Slot& slot = it->second;
  if (count > slot.lookups) {
    log::fs()->error("forget of inode {} by {} exceeds its lookup count {}", ino, count,
                     slot.lookups);
    count = slot.lookups;
  }
  slot.lookups -= count;
  if (slot.lookups != 0) return nullptr;
  std::shared_ptr<const Node> erased = std::move(slot.node);
  bytes_ -= std::min(bytes_, mirror_bytes(erased->rel_path));
  by_key_.erase(slot.key);
  by_ino_.erase(it);
  // Forgotten inodes stay in order_ until they reach its front; keep it from growing past
  // twice the table.
  if (order_.size() > 2 * by_ino_.size() + 1024) {
    std::erase_if(order_, [&](fuse_ino_t i) { return !by_ino_.contains(i); });
  }
  return erased;
}

std::vector<InodeTable::Entry> InodeTable::oldest(std::uint64_t bytes) {
  std::lock_guard lock(mutex_);
  std::vector<Entry> out;
  std::uint64_t freed = 0;
  // Each live entry is looked at once per call.
  for (std::size_t left = order_.size(); left > 0 && freed < bytes; --left) {
    fuse_ino_t ino = order_.front();
    order_.pop_front();
    auto it = by_ino_.find(ino);
    if (it == by_ino_.end() || it->second.permanent) continue;
    order_.push_back(ino);
    if (it->second.node->kind != Node::Kind::kMirror) continue;  // never cached long
    const std::string& rel = it->second.node->rel_path;
    auto [dir, name] = extraction::split_relative(rel);
    auto parent = by_key_.find(mirror_key(dir));
    if (parent == by_key_.end()) continue;  // the kernel no longer knows the directory
    out.push_back({parent->second, std::string(name)});
    freed += mirror_bytes(rel);
  }
  return out;
}

std::size_t InodeTable::size() const {
  std::lock_guard lock(mutex_);
  return by_ino_.size() + versions_.size();
}

std::uint64_t InodeTable::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace metafs::fs
