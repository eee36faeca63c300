#include "extraction/data_view.hpp"

#include <atomic>
#include <cstring>

#include "format.hpp"
#include "render.hpp"

namespace metafs::extraction {

using extract::MetaNode;
using extract::MetaTree;

namespace {

std::shared_ptr<const std::string> shared_text(std::string text) {
  return std::make_shared<const std::string>(std::move(text));
}

// Read permission of the source becomes read (and search, for directories) permission.
mode_t derived_mode(mode_t source, bool directory) {
  mode_t read_bits = source & (S_IRUSR | S_IRGRP | S_IROTH);
  mode_t mode = read_bits;
  if (directory) mode |= read_bits >> 2;  // r -> x in each class
  return mode;
}

// Views alive in the process (DataView::live).
std::atomic<std::uint64_t> live_views{0};
std::atomic<std::uint64_t> live_bytes{0};

}  // namespace

DataView::DataView(std::shared_ptr<const extract::Extraction> extraction, const struct stat& source,
                   std::string_view file_name)
    : extraction_(std::move(extraction)), source_(source) {
  const extract::Extraction& x = *extraction_;
  entries_.reserve(x.tree.size() + 9 + x.extra_files.size());
  entries_.push_back(
      Entry{EntryType::kDirectory, Content::kNone, false, kRootEntry, 0, "", {}, nullptr});
  entries_.push_back(
      Entry{EntryType::kFile, Content::kOriginal, false, kRootEntry, 0, "", {}, nullptr});

  EntryId format = add(kRootEntry, "format", EntryType::kFile, Content::kOwned);
  entries_[format].text = shared_text(std::string(extract::format_name(x.format)) + "\n");
  if (x.failed()) {
    EntryId error = add(kRootEntry, "error", EntryType::kFile, Content::kOwned);
    entries_[error].text = shared_text(x.error + "\n");
  }
  EntryId fields = add(kRootEntry, std::string(kFieldsName), EntryType::kDirectory, Content::kNone);
  entries_[fields].tree_node = MetaTree::kRoot;
  entries_[fields].tree_dir = true;
  add(kRootEntry, "header.txt", EntryType::kFile, Content::kHeader);
  add(kRootEntry, "metadata.json", EntryType::kFile, Content::kMetadataJson);
  add(kRootEntry, "metadata.txt", EntryType::kFile, Content::kMetadataTxt);
  for (std::size_t i = 0; i < x.extra_files.size(); ++i) {
    const std::string& name = x.extra_files[i].first;
    if (find(kRootEntry, name) != kNoEntry || name.empty() || name.find('/') != std::string::npos) {
      continue;
    }
    // Served from the extraction, as header.txt is: the view holds no second copy.
    EntryId extra = add(kRootEntry, name, EntryType::kFile, Content::kExtraFile);
    entries_[extra].tree_node = static_cast<std::uint32_t>(i);
  }
  // The view's own files keep their names (tools rely on X/metadata.json); the original gives
  // way. The fallback is none of the fixed names, so it is free but for a forged extra file.
  if (!file_name.empty()) {
    std::string name(find(kRootEntry, file_name) == kNoEntry ? file_name : kOriginalFallbackName);
    if (find(kRootEntry, name) == kNoEntry) {
      entries_[kOriginalEntry].name = std::move(name);
      entries_[kRootEntry].children.push_back(kOriginalEntry);
    }
  }
  extract::LinkTargets links(x.tree);
  add_tree(fields, MetaTree::kRoot, links);
  bytes_ = compute_memory_bytes();
  live_views.fetch_add(1, std::memory_order_relaxed);
  live_bytes.fetch_add(bytes_, std::memory_order_relaxed);
}

DataView::~DataView() {
  live_views.fetch_sub(1, std::memory_order_relaxed);
  live_bytes.fetch_sub(bytes_, std::memory_order_relaxed);
}

DataView::Live DataView::live() {
  return Live{live_views.load(std::memory_order_relaxed),
              live_bytes.load(std::memory_order_relaxed)};
}

std::vector<std::string> DataView::fixed_names() {
  return {"format", "error", "fields", "header.txt", "metadata.json", "metadata.txt", "dicom.json"};
}

std::vector<std::string> DataView::top_names(std::string_view file_name) {
  std::vector<std::string> names = fixed_names();
  names.emplace_back(file_name);
  names.emplace_back(kOriginalFallbackName);
  return names;
}

DataView::EntryId DataView::add(EntryId parent, std::string name, EntryType type, Content content) {
  auto id = static_cast<EntryId>(entries_.size());
  entries_.push_back(Entry{type, content, false, parent, 0, std::move(name), {}, nullptr});
  entries_[parent].children.push_back(id);
  return id;
}

void DataView::add_tree(EntryId dir, std::uint32_t tree_node, extract::LinkTargets& links) {
  const MetaTree& tree = extraction_->tree;
  // Names within NAME_MAX (extractors/entry_name.hpp); the tree keeps the full ones.
  std::vector<std::string> names = extract::entry_names(tree, tree_node);
  const auto& tree_children = tree.node(tree_node).children;
  for (std::size_t i = 0; i < tree_children.size(); ++i) {
    extract::NodeId child = tree_children[i];
    const MetaNode& node = tree.node(child);
    bool shortened = names[i].size() != node.name.size();
    EntryId id = kNoEntry;
    switch (node.type) {
      case MetaNode::Type::kDirectory:
        id = add(dir, std::move(names[i]), EntryType::kDirectory, Content::kNone);
        entries_[id].tree_node = child;
        entries_[id].tree_dir = true;
        add_tree(id, child, links);
        break;
      case MetaNode::Type::kValue:
        id = add(dir, std::move(names[i]), EntryType::kFile, Content::kTreeValue);
        entries_[id].tree_node = child;
        break;
      case MetaNode::Type::kLink:
        id = add(dir, std::move(names[i]), EntryType::kLink, Content::kTreeLink);
        entries_[id].tree_node = child;
        if (std::string target = links.of(child); target != node.text) {
          entries_[id].content = Content::kOwned;
          entries_[id].text = shared_text(std::move(target));
        }
        break;
    }
    if (shortened) shortened_.emplace(shortened_key(dir, entries_[id].name), id);
  }
}

std::string DataView::shortened_key(EntryId dir, std::string_view name) {
  std::string key(sizeof dir, '\0');
  std::memcpy(key.data(), &dir, sizeof dir);
  key.append(name);
  return key;
}

DataView::EntryId DataView::find(EntryId dir, std::string_view name) const {
  const Entry& entry = entries_.at(dir);
  if (entry.type != EntryType::kDirectory) return kNoEntry;
  if (entry.tree_dir) {
    // Below fields/ the tree's own index answers; a tree directory's entries were added in
    // the tree's child order, so the child's position maps one to the other.
    if (!shortened_.empty()) {
      auto it = shortened_.find(shortened_key(dir, name));
      if (it != shortened_.end()) return it->second;
    }
    const MetaTree& tree = extraction_->tree;
    extract::NodeId node = tree.find(entry.tree_node, name);
    if (node == MetaTree::kNotFound) return kNoEntry;
    const auto& tree_children = tree.node(entry.tree_node).children;
    for (std::size_t i = 0; i < tree_children.size(); ++i) {
      // A long name is reachable only by the name fields/ lists for it.
      if (tree_children[i] == node) {
        return entries_[entry.children[i]].name == name ? entry.children[i] : kNoEntry;
      }
    }
    return kNoEntry;
  }
  for (EntryId child : entry.children) {
    if (entries_[child].name == name) return child;
  }
  return kNoEntry;
}

std::shared_ptr<const std::string> DataView::content(EntryId id) const {
  const Entry& entry = entries_.at(id);
  const extract::Extraction& x = *extraction_;
  switch (entry.content) {
    case Content::kNone:
      return shared_text("");
    case Content::kOwned:
      return entry.text;
    case Content::kTreeValue:
      return shared_text(extract::render_value_file(x.tree.node(entry.tree_node)));
    case Content::kTreeLink:
      return shared_text(x.tree.node(entry.tree_node).text);
    case Content::kMetadataTxt:
      std::call_once(txt_once_, [&] { txt_ = shared_text(extract::render_txt(x.tree)); });
      return txt_;
    case Content::kMetadataJson:
      std::call_once(json_once_, [&] { json_ = shared_text(extract::render_json(x.tree)); });
      return json_;
    case Content::kHeader:
      return std::shared_ptr<const std::string>(extraction_, &x.header);
    case Content::kExtraFile:
      return std::shared_ptr<const std::string>(extraction_,
                                                &x.extra_files.at(entry.tree_node).second);
    case Content::kOriginal:
      return shared_text("");
  }
  return shared_text("");
}

std::uint64_t DataView::size_of(EntryId id) const {
  const Entry& entry = entries_.at(id);
  switch (entry.content) {
    case Content::kTreeValue:
      return extraction_->tree.node(entry.tree_node).text.size() + 1;
    case Content::kTreeLink:
      return extraction_->tree.node(entry.tree_node).text.size();
    case Content::kHeader:
      return extraction_->header.size();
    case Content::kExtraFile:
      return extraction_->extra_files.at(entry.tree_node).second.size();
    case Content::kNone:
      return 0;
    case Content::kOriginal:
      return static_cast<std::uint64_t>(source_.st_size);
    default:
      return content(id)->size();
  }
}

struct stat DataView::attributes(EntryId id) const {
  struct stat st {};
  const Entry& entry = entries_.at(id);
  if (entry.content == Content::kOriginal) {
    // The file as a mirrored plain file shows it (size, blocks, times, mode), one link.
    st = source_;
    st.st_ino = 0;
    st.st_nlink = 1;
    return st;
  }
  st.st_uid = source_.st_uid;
  st.st_gid = source_.st_gid;
  st.st_atim = source_.st_mtim;
  st.st_mtim = source_.st_mtim;
  st.st_ctim = source_.st_ctim;
  st.st_blksize = 4096;
  switch (entry.type) {
    case EntryType::kDirectory: {
      std::size_t subdirs = 0;
      for (EntryId child : entry.children) subdirs += entries_[child].type == EntryType::kDirectory;
      st.st_mode = S_IFDIR | derived_mode(source_.st_mode, true);
      st.st_nlink = 2 + subdirs;
      st.st_size = static_cast<off_t>(entry.children.size());
      break;
    }
    case EntryType::kFile:
      st.st_mode = S_IFREG | derived_mode(source_.st_mode, false);
      st.st_nlink = 1;
      st.st_size = static_cast<off_t>(size_of(id));
      break;
    case EntryType::kLink:
      st.st_mode = S_IFLNK | 0777;
      st.st_nlink = 1;
      st.st_size = static_cast<off_t>(size_of(id));
      break;
  }
  st.st_blocks = (st.st_size + 511) / 512;
  return st;
}

std::size_t DataView::compute_memory_bytes() const {
  std::size_t bytes = sizeof(*this) + entries_.capacity() * sizeof(Entry);
  for (const Entry& entry : entries_) {
    bytes += entry.name.capacity() + entry.children.capacity() * sizeof(EntryId);
    if (entry.text) bytes += entry.text->capacity();
  }
  for (const auto& [key, id] : shortened_) bytes += key.capacity() + sizeof(id) + 32;
  // metadata.txt and metadata.json, rendered on demand, are each about the tree's size.
  bytes += 3 * extraction_->tree.memory_bytes() + extraction_->header.capacity() +
           extraction_->error.capacity();
  // The format's own files (dicom.json), served from the extraction as header.txt is.
  for (const auto& [name, content] : extraction_->extra_files) {
    bytes += sizeof(name) + name.capacity() + sizeof(content) + content.capacity();
  }
  return bytes;
}

}  // namespace metafs::extraction
