#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "node.hpp"

namespace metafs::fs {

// Inode numbers for nodes, with the kernel's lookup counts. Every reply that hands the kernel
// an entry goes through acquire() (count + 1); forget() subtracts and erases the node at zero.
// Permanent nodes (the root, /.metafs) are never erased.
//
// Entries of a scientific file's view are not stored one by one: their inode number encodes
// the file version's slot and the entry (kVirtualBit | slot << kEntryBits | entry), and one
// lookup count per version covers all of them, so the table grows with the data files the
// kernel knows, not with every fields/ file it has looked at.
//
// One mutex guards both maps; nothing else is locked while it is held.
class InodeTable {
 public:
  static constexpr fuse_ino_t kRootIno = FUSE_ROOT_ID;
  static constexpr fuse_ino_t kControlDirIno = 2;
  static constexpr fuse_ino_t kFirstControlFileIno = 3;  // + ControlFile value
  static constexpr fuse_ino_t kFirstDynamicIno = 16;
  static constexpr fuse_ino_t kVirtualBit = fuse_ino_t{1} << 62;
  static constexpr unsigned kEntryBits = 24;
  // Views with more entries than this cannot be shown (extractors cap their trees far below).
  static constexpr extraction::DataView::EntryId kMaxEntries = extraction::DataView::EntryId{1}
                                                               << kEntryBits;

  InodeTable();

  // The node of `ino`, or nullptr when the kernel asks for one it has forgotten.
  std::shared_ptr<const Node> get(fuse_ino_t ino) const;

  // The node for a mirrored path, created when new; its lookup count is incremented.
  std::shared_ptr<const Node> acquire_mirror(const std::string& rel_path);
  // The node for an entry of a version's view; the version's lookup count is incremented.
  // Versions are interned (one object per version while anything holds it). Precondition:
  // entry < kMaxEntries.
  std::shared_ptr<const Node> acquire_virtual(
      const std::shared_ptr<const extraction::DataVersion>& version,
      extraction::DataView::EntryId entry);

  // The node for a query node (Node::Kind::kQuery); its lookup count is incremented.
  std::shared_ptr<const Node> acquire_query(Node::QueryRole role, const std::string& query,
                                            const std::string& rel_path);

  // Returns the node when this forget erased it (its count reached zero), else nullptr.
  std::shared_ptr<const Node> forget(fuse_ino_t ino, std::uint64_t count);

  // The inode of a mirrored path the kernel knows, or 0.
  fuse_ino_t find_mirror(const std::string& rel_path) const;
  // Every mirrored path's inode the kernel holds.
  std::vector<fuse_ino_t> mirror_inodes() const;

  // Mirrored nodes and data-file versions the kernel holds.
  std::size_t size() const;
  // About how many bytes of memory the table holds (nodes, paths, versions).
  std::uint64_t bytes() const;

  // A mirrored entry as the kernel names it: for fuse_lowlevel_notify_inval_entry.
  struct Entry {
    fuse_ino_t parent;
    std::string name;
  };
  // The entries created longest ago whose nodes hold at least `bytes` together (fewer when
  // the table has fewer). Each is moved to the back of the order, so that an entry the kernel
  // keeps (in use) is not offered again at once.
  std::vector<Entry> oldest(std::uint64_t bytes);

 private:
  struct Slot {
    std::shared_ptr<Node> node;
    std::uint64_t lookups = 0;
    std::string key;
    bool permanent = false;
  };

  std::shared_ptr<const Node> acquire(std::string key, const std::function<void(Node&)>& init);
  void add_permanent(std::shared_ptr<Node> node);

  struct VersionSlot {
    std::shared_ptr<const extraction::DataVersion> version;
    std::uint64_t lookups = 0;
  };

  mutable std::mutex mutex_;
  std::unordered_map<std::uint64_t, VersionSlot> versions_;  // by slot number
  std::unordered_map<const extraction::DataVersion*, std::uint64_t>
      version_slots_;  // interned object -> slot
  std::uint64_t next_version_slot_ = 1;
  std::unordered_map<fuse_ino_t, Slot> by_ino_;
  std::unordered_map<std::string, fuse_ino_t> by_key_;
  std::deque<fuse_ino_t> order_;  // mirrored inodes by creation; forgotten ones are skipped
  std::uint64_t bytes_ = 0;
  fuse_ino_t next_ino_ = kFirstDynamicIno;
};

}  // namespace metafs::fs
