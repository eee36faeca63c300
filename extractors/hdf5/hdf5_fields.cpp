#include "hdf5_fields.hpp"

#include <string>
#include <unordered_map>
#include <vector>

#include "hdf5_value_text.hpp"

namespace metafs::extract::hdf5 {
namespace {

const char* kind_name(Node::Kind kind) {
  switch (kind) {
    case Node::Kind::kGroup:
      return "group";
    case Node::Kind::kDataset:
      return "dataset";
    case Node::Kind::kDatatype:
      return "named datatype";
    case Node::Kind::kOtherObject:
      return "object";
    case Node::Kind::kHardLink:
      return "hard link";
    case Node::Kind::kSoftLink:
      return "soft link";
    case Node::Kind::kExternalLink:
      return "external link";
    case Node::Kind::kUserDefinedLink:
      return "user-defined link";
    case Node::Kind::kUnreadable:
      return "unreadable";
  }
  return "unknown";
}

std::vector<std::string> numbers(const std::vector<std::uint64_t>& values) {
  std::vector<std::string> out;
  out.reserve(values.size());
  for (auto v : values) out.push_back(std::to_string(v));
  return out;
}

class FieldsBuilder {
 public:
  FieldsBuilder(const FileModel& model, const Limits& limits, MetaTree& tree)
      : model_(model), limits_(limits), tree_(tree) {}

  void build() {
    const Node& root = model_.root;
    tree_.add_value(MetaTree::kRoot, field::kKind, kind_name(root.kind));
    tree_.add_value(MetaTree::kRoot, field::kSuperblockVersion,
                    std::to_string(model_.superblock_version), ValueKind::kNumber);
    tree_.add_value(MetaTree::kRoot, field::kUserblockSize, std::to_string(model_.userblock_size),
                    ValueKind::kNumber);
    add_comment(MetaTree::kRoot, root.address);
    dirs_.emplace(root.address, MetaTree::kRoot);
    std::vector<std::string> notes = model_.notes;
    notes.insert(notes.end(), root.notes.begin(), root.notes.end());
    add_notes(MetaTree::kRoot, notes);
    add_attributes(MetaTree::kRoot, root);
    add_children(MetaTree::kRoot, root, 0);
  }

 private:
  void add_notes(NodeId dir, const std::vector<std::string>& notes) {
    if (!notes.empty()) tree_.add_list(dir, field::kNote, notes, ValueKind::kString, "; ");
  }

  void add_comment(NodeId dir, std::uint64_t address) {
    auto found = model_.comments.find(address);
    if (found != model_.comments.end()) tree_.add_value(dir, field::kComment, found->second);
  }

  void add_attributes(NodeId dir, const Node& node) {
    if (node.attributes.empty()) return;
    NodeId attributes = tree_.add_dir(dir, field::kAttributes);
    for (const auto& attribute : node.attributes) {
      add_data(attributes, attribute.name, attribute.data, attribute.space);
    }
  }

  template <typename Name>
  void add_data(NodeId dir, Name name, const Data& data, const Dataspace& space) {
    DataText text = data_text(data, space, model_, limits_);
    if (text.is_list) {
      tree_.add_list(dir, name, std::move(text.items), text.kind, kListSeparator);
    } else {
      tree_.add_value(dir, name, std::move(text.text), text.kind);
    }
  }

  void add_children(NodeId dir, const Node& node, std::size_t depth) {
    for (const auto& child : node.children) {
      if (child.kind == Node::Kind::kHardLink) {
        add_hard_link(dir, child, depth);
        continue;
      }
      NodeId child_dir = tree_.add_dir(dir, child.name);
      if (child.address != 0 && child.kind != Node::Kind::kUnreadable) {
        dirs_.emplace(child.address, child_dir);
      }
      add_node(child_dir, child, depth + 1);
    }
  }

  void add_node(NodeId dir, const Node& node, std::size_t depth) {
    tree_.add_value(dir, field::kKind, kind_name(node.kind));
    if (node.kind == Node::Kind::kGroup || node.kind == Node::Kind::kDataset ||
        node.kind == Node::Kind::kDatatype || node.kind == Node::Kind::kOtherObject) {
      add_comment(dir, node.address);
    }
    add_notes(dir, node.notes);
    switch (node.kind) {
      case Node::Kind::kSoftLink:
        tree_.add_value(dir, field::kTarget, node.target);
        break;
      case Node::Kind::kExternalLink:
        tree_.add_value(dir, field::kFile, node.target_file);
        tree_.add_value(dir, field::kTarget, node.target);
        break;
      case Node::Kind::kUserDefinedLink:
        tree_.add_value(dir, field::kLinkClass, std::to_string(node.link_class),
                        ValueKind::kNumber);
        break;
      case Node::Kind::kDatatype:
        if (node.datatype) tree_.add_value(dir, field::kDtype, node.datatype->compact);
        break;
      case Node::Kind::kDataset:
        if (node.dataset) add_dataset(dir, *node.dataset);
        break;
      default:
        break;
    }
    add_attributes(dir, node);
    if (node.kind == Node::Kind::kGroup) add_children(dir, node, depth);
  }

  void add_dataset(NodeId dir, const DatasetInfo& info) {
    tree_.add_value(dir, field::kDtype, info.type ? info.type->compact : std::string("unknown"));
    if (info.committed_type) {
      // A committed type no link names goes by h5dump's name for it, "/#<address>".
      auto found = model_.paths.find(*info.committed_type);
      tree_.add_value(dir, field::kNamedDtype,
                      found != model_.paths.end() ? found->second
                                                  : "/#" + std::to_string(*info.committed_type));
    }
    switch (info.space.cls) {
      case Dataspace::Class::kScalar:
        tree_.add_value(dir, field::kDataspace, "scalar");
        break;
      case Dataspace::Class::kNull:
        tree_.add_value(dir, field::kDataspace, "null");
        break;
      case Dataspace::Class::kSimple: {
        tree_.add_value(dir, field::kDataspace, "simple");
        tree_.add_list(dir, field::kShape, numbers(info.space.dims), ValueKind::kNumber,
                       kListSeparator);
        bool unlimited = false;
        std::vector<std::string> max_dims;
        for (auto v : info.space.max_dims) {
          unlimited = unlimited || v == Dataspace::kUnlimited;
          max_dims.push_back(v == Dataspace::kUnlimited ? "unlimited" : std::to_string(v));
        }
        tree_.add_list(dir, field::kMaxShape, std::move(max_dims),
                       unlimited ? ValueKind::kString : ValueKind::kNumber, kListSeparator);
        break;
      }
      case Dataspace::Class::kUnknown:
        tree_.add_value(dir, field::kDataspace, "unknown");
        break;
    }
    if (!info.layout.empty()) tree_.add_value(dir, field::kLayout, info.layout);
    if (!info.chunks.empty()) {
      tree_.add_list(dir, field::kChunks, numbers(info.chunks), ValueKind::kNumber, kListSeparator);
    }
    if (!info.filters.empty()) {
      tree_.add_list(dir, field::kFilters, info.filters, ValueKind::kString, kListSeparator);
    }
    if (info.fill_state == "undefined") {
      tree_.add_value(dir, field::kFillValue, "undefined");
    } else if (info.fill_value) {
      add_data(dir, field::kFillValue, *info.fill_value,
               Dataspace{Dataspace::Class::kScalar, {}, {}});
    }
    if (info.storage_size) {
      tree_.add_value(dir, field::kStorageSize, std::to_string(*info.storage_size),
                      ValueKind::kNumber);
    }
    if (!info.external_files.empty()) {
      tree_.add_list(dir, field::kExternal, info.external_files, ValueKind::kString,
                     kListSeparator);
    }
  }

  // A further link to an object already shown: a symbolic link to its first directory.
  void add_hard_link(NodeId dir, const Node& child, std::size_t depth) {
    auto found = dirs_.find(child.address);
    if (found == dirs_.end()) {
      NodeId child_dir = tree_.add_dir(dir, child.name);
      tree_.add_value(child_dir, field::kKind, kind_name(Node::Kind::kHardLink));
      auto path = model_.paths.find(child.address);
      tree_.add_value(child_dir, field::kTarget,
                      path != model_.paths.end() ? path->second : std::string("?"));
      return;
    }
    std::vector<std::string> parts(depth, "..");
    std::string path = tree_.path(found->second);
    if (!path.empty()) parts.push_back(std::move(path));
    std::string target = parts.empty() ? std::string(".") : parts.front();
    for (std::size_t i = 1; i < parts.size(); ++i) target.append("/").append(parts[i]);
    tree_.add_link(dir, child.name, std::move(target));
  }

  const FileModel& model_;
  const Limits& limits_;
  MetaTree& tree_;
  std::unordered_map<std::uint64_t, NodeId> dirs_;
};

}  // namespace

void build_fields(const FileModel& model, const Limits& limits, MetaTree& tree) {
  FieldsBuilder(model, limits, tree).build();
}

}  // namespace metafs::extract::hdf5
