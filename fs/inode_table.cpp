#include "inode_table.hpp"

#include <cstring>
#include <functional>

#include "log.hpp"

namespace metafs::fs {

InodeTable::InodeTable() {
  auto root = std::make_shared<Node>();
  root->ino = kRootIno;
  root->kind = Node::Kind::kMirror;
  add_permanent(root);
  by_key_.emplace("M", kRootIno);

  auto control = std::make_shared<Node>();
  control->ino = kControlDirIno;
  control->kind = Node::Kind::kControlDir;
  add_permanent(control);
  for (ControlFile file : {ControlFile::kVersion, ControlFile::kStats, ControlFile::kMetrics}) {
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
  by_key_.emplace(key, node->ino);
  auto [it, inserted] = by_ino_.emplace(node->ino, Slot{node, 1, std::move(key), false});
  return it->second.node;
}

std::shared_ptr<const Node> InodeTable::acquire_mirror(const std::string& rel_path) {
  if (rel_path.empty()) return get(kRootIno);
  return acquire("M" + rel_path, [&](Node& node) {
    node.kind = Node::Kind::kMirror;
    node.rel_path = rel_path;
  });
}

std::shared_ptr<const Node> InodeTable::acquire_virtual(
    const std::shared_ptr<const DataVersion>& version, DataView::EntryId entry) {
  std::string key(1 + sizeof(void*) + sizeof entry, 'V');
  const void* identity = version.get();
  std::memcpy(key.data() + 1, &identity, sizeof identity);
  std::memcpy(key.data() + 1 + sizeof identity, &entry, sizeof entry);
  return acquire(std::move(key), [&](Node& node) {
    node.kind = Node::Kind::kVirtual;
    node.version = version;
    node.entry = entry;
  });
}

fuse_ino_t InodeTable::find_mirror(const std::string& rel_path) const {
  std::lock_guard lock(mutex_);
  auto it = by_key_.find("M" + rel_path);
  return it == by_key_.end() ? 0 : it->second;
}

std::shared_ptr<const Node> InodeTable::forget(fuse_ino_t ino, std::uint64_t count) {
  std::lock_guard lock(mutex_);
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
  by_key_.erase(slot.key);
  by_ino_.erase(it);
  return erased;
}

std::size_t InodeTable::size() const {
  std::lock_guard lock(mutex_);
  return by_ino_.size();
}

}  // namespace metafs::fs
