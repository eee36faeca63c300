#include "hdf5_reader.hpp"

#include <hdf5.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "extraction.hpp"
#include "hdf5_handle.hpp"
#include "hdf5_library.hpp"
#include "hdf5_properties.hpp"
#include "hdf5_type_text.hpp"
#include "hdf5_values.hpp"

namespace metafs::extract::hdf5 {
namespace {

struct LinkEntry {
  std::string name;
  H5L_type_t type = H5L_TYPE_ERROR;
  haddr_t address = HADDR_UNDEF;
};

struct LinkList {
  std::vector<LinkEntry> entries;
  std::size_t max = 0;
};

// Called by the library, so it must not throw.
herr_t collect_link(hid_t, const char* name, const H5L_info_t* info, void* data) noexcept {
  auto* list = static_cast<LinkList*>(data);
  if (list->entries.size() >= list->max) return 1;
  try {
    LinkEntry entry;
    entry.name = name;
    entry.type = info->type;
    if (info->type == H5L_TYPE_HARD) entry.address = info->u.address;
    list->entries.push_back(std::move(entry));
  } catch (...) {
    return -1;
  }
  return 0;
}

struct NameList {
  std::vector<std::string> names;
  std::size_t max = 0;
};

herr_t collect_attribute(hid_t, const char* name, const H5A_info_t*, void* data) noexcept {
  auto* list = static_cast<NameList*>(data);
  if (list->names.size() >= list->max) return 1;
  try {
    list->names.emplace_back(name);
  } catch (...) {
    return -1;
  }
  return 0;
}

std::string count_note(std::uint64_t listed, std::uint64_t total, const char* what,
                       const char* why) {
  if (listed == 0) {
    return "none of the " + std::to_string(total) + " " + what + " are listed (" + why + ")";
  }
  return "only the first " + std::to_string(listed) + " of " + std::to_string(total) + " " + what +
         " in storage order are listed (" + why + ")";
}

// A type's description and how to read it, worked out once per distinct type of a file.
struct TypeInfo {
  SharedTypeText text;
  std::unique_ptr<MemoryType> memory;
  bool damaged = false;  // parts of the type do not fit in it: never read with it
};

class FileReader {
 public:
  FileReader(const Limits& limits, FileModel& model) : limits_(limits), model_(model) {}

  void read(hid_t file) {
    H5F_info2_t info;
    if (H5Fget_info2(file, &info) >= 0) model_.superblock_version = info.super.version;
    Handle fcpl(H5Fget_create_plist(file));
    hsize_t userblock = 0;
    if (fcpl && H5Pget_userblock(fcpl.get(), &userblock) >= 0) model_.userblock_size = userblock;

    Node& root = model_.root;
    root.kind = Node::Kind::kGroup;
    root.name = "/";
    Handle group(H5Gopen2(file, "/", H5P_DEFAULT));
    if (!group) throw ExtractError("cannot open the root group: " + last_hdf5_error());
    H5O_info_t object;
    if (H5Oget_info2(group.get(), &object, H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS) < 0) {
      throw ExtractError("cannot read the root group: " + last_hdf5_error());
    }
    root.address = object.addr;
    model_.paths.emplace(object.addr, "/");
    kinds_.emplace(object.addr, Node::Kind::kGroup);
    read_comment(group.get(), object.addr, root);
    read_attributes(group.get(), object.num_attrs, root);
    read_group(group.get(), root, "", 0);
    // Only now is every link known: a committed type no link names is anonymous.
    for (auto& used : used_types_) {
      if (model_.paths.count(used.address) != 0) continue;
      Node type;
      type.kind = Node::Kind::kDatatype;
      type.name = "#" + std::to_string(used.address);
      type.address = used.address;
      type.datatype = std::move(used.text);
      H5O_info_t type_object;
      if (used.type && H5Oget_info2(used.type.get(), &type_object, H5O_INFO_NUM_ATTRS) >= 0) {
        read_attributes(used.type.get(), type_object.num_attrs, type);
      }
      model_.anonymous_types.push_back(std::move(type));
    }
  }

 private:
  // Files repeat a few types many times (1000 string attributes): key by the encoded type.
  // Encoded in one call into a reused buffer when it fits (H5Tencode only reports the size
  // when the buffer is too small), in two otherwise.
  const TypeInfo& type_info(hid_t type) {
    constexpr std::size_t kMaxCachedTypes = 4096;
    constexpr std::size_t kMaxEncodedSize = 64 << 10;
    constexpr std::size_t kFirstTry = 256;
    std::string_view key;
    std::size_t size = kFirstTry;
    if (encode_type(type, size)) {
      key = std::string_view(encoded_).substr(0, size);
    } else if (size > kFirstTry && size <= kMaxEncodedSize && encode_type(type, size)) {
      key = std::string_view(encoded_).substr(0, size);
    }
    if (!key.empty()) {
      if (auto found = types_.find(key); found != types_.end()) return found->second;
    }
    TypeInfo info;
    info.text = std::make_shared<const TypeText>(describe_type(type, limits_.max_type_depth));
    info.memory = make_memory_type(type, limits_, &info.damaged);
    if (key.empty() || types_.size() >= kMaxCachedTypes) {
      uncached_ = std::move(info);
      return uncached_;
    }
    return types_.emplace(std::string(key), std::move(info)).first->second;
  }

  // Encodes `type` into encoded_ when its encoding takes at most `size` bytes; `size` becomes
  // the size the library announced. A damaged type can encode longer than it announces:
  // encoded_ keeps as much slack again (and 256 bytes) past `size`, and an encoding that
  // wrote into it is refused.
  bool encode_type(hid_t type, std::size_t& size) {
    constexpr char kSlackByte = '\x5a';
    std::size_t room = size;
    encoded_.assign(room * 2 + 256, kSlackByte);
    if (slack_.size() < encoded_.size()) slack_.assign(encoded_.size(), kSlackByte);
    if (H5Tencode(type, encoded_.data(), &size) < 0 || size == 0 || size > room) return false;
    return std::memcmp(encoded_.data() + size, slack_.data(), encoded_.size() - size) == 0;
  }

  // The address of the committed datatype `type` is, if it is one.
  static std::optional<std::uint64_t> committed_address(hid_t type) {
    if (H5Tcommitted(type) <= 0) return std::nullopt;
    H5O_info_t info;
    if (H5Oget_info2(type, &info, H5O_INFO_BASIC) < 0) return std::nullopt;
    return info.addr;
  }

  void read_comment(hid_t object, std::uint64_t address, Node& node) {
    ssize_t size = H5Oget_comment(object, nullptr, 0);
    if (size == 0) return;
    if (size < 0) {
      unreadable(node, "comment not readable: " + last_hdf5_error());
      return;
    }
    // A comment is one object header message, so at most 64 KiB: the string cap suffices.
    auto length = std::min(static_cast<std::size_t>(size), limits_.max_string_bytes);
    std::string comment(length + 1, '\0');
    if (H5Oget_comment(object, comment.data(), comment.size()) < 0) {
      unreadable(node, "comment not readable: " + last_hdf5_error());
      return;
    }
    comment.resize(strnlen(comment.c_str(), length));
    model_.comments.emplace(address, std::move(comment));
  }

  // A part of the file the library could not read: noted where it is, counted for the error.
  void unreadable(Node& node, std::string note) {
    node.notes.push_back(std::move(note));
    ++model_.unreadable;
  }

  void read_attributes(hid_t object, hsize_t count, Node& node) {
    node.attribute_count = count;
    if (count == 0) return;
    std::size_t budget =
        limits_.max_attributes > attributes_ ? limits_.max_attributes - attributes_ : 0;
    std::size_t limit = std::min(limits_.max_attributes_per_object, budget);
    // As for links: storage order, one more than the limit, then sorted by name.
    NameList list;
    list.max = limit + 1;
    hsize_t index = 0;
    if (H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_NATIVE, &index, collect_attribute, &list) < 0 &&
        list.names.empty()) {
      unreadable(node, "attributes not readable: " + last_hdf5_error());
      return;
    }
    if (list.names.size() > limit) {
      list.names.resize(limit);
      node.notes.push_back(count_note(
          list.names.size(), count, "attributes",
          limit == limits_.max_attributes_per_object ? "limit per object" : "limit per file"));
    } else {
      std::sort(list.names.begin(), list.names.end());
    }
    attributes_ += list.names.size();
    for (const auto& name : list.names) {
      Attribute attribute;
      attribute.name = name;
      Handle attr(H5Aopen(object, name.c_str(), H5P_DEFAULT));
      if (!attr) {
        attribute.data.problem = "not read: " + last_hdf5_error();
        ++model_.unreadable;
        node.attributes.push_back(std::move(attribute));
        continue;
      }
      Handle type(H5Aget_type(attr.get()));
      Handle space(H5Aget_space(attr.get()));
      const TypeInfo* info = type ? &type_info(type.get()) : nullptr;
      if (info != nullptr) attribute.type = info->text;
      if (type) attribute.committed_type = committed_address(type.get());
      if (space) attribute.space = describe_space(space.get());
      if (value_bytes_ >= limits_.max_total_value_bytes) {
        attribute.data.problem = "not read: the file's attribute values passed " +
                                 std::to_string(limits_.max_total_value_bytes >> 20) + " MiB";
      } else if (info != nullptr && info->damaged) {
        attribute.data.problem = "not read: damaged datatype";
        ++model_.unreadable;
      } else if (type && space) {
        attribute.data = read_attribute_data(attr.get(), info->memory.get(), space.get(), limits_);
        value_bytes_ += data_bytes(attribute.data);
        if (attribute.data.failed) ++model_.unreadable;
      } else {
        attribute.data.problem = "not read: " + last_hdf5_error();
        ++model_.unreadable;
      }
      node.attributes.push_back(std::move(attribute));
    }
  }

  void read_group(hid_t group, Node& node, const std::string& path, std::size_t depth) {
    if (depth >= limits_.max_depth) {
      H5G_info_t info;
      if (H5Gget_info(group, &info) >= 0 && info.nlinks > 0) {
        node.link_count = info.nlinks;
        node.notes.push_back("links not listed: groups nested deeper than " +
                             std::to_string(limits_.max_depth));
      }
      return;
    }
    std::size_t budget = limits_.max_objects > objects_ ? limits_.max_objects - objects_ : 0;
    std::size_t limit = std::min(limits_.max_links_per_group, budget);
    // Storage order, one link more than the limit to tell a cut list; then sorted into
    // h5dump's name order, which the library could only give by tabulating every name.
    LinkList list;
    list.max = limit + 1;
    hsize_t index = 0;
    if (H5Literate(group, H5_INDEX_NAME, H5_ITER_NATIVE, &index, collect_link, &list) < 0 &&
        list.entries.empty()) {
      unreadable(node, "links not readable: " + last_hdf5_error());
      return;
    }
    if (list.entries.size() > limit) {
      list.entries.resize(limit);
      H5G_info_t info;
      node.link_count = H5Gget_info(group, &info) >= 0 ? info.nlinks : limit + 1;
      const char* why = limit == limits_.max_links_per_group ? "limit per group" : "limit per file";
      node.notes.push_back(count_note(limit, node.link_count, "links", why));
      if (limit < limits_.max_links_per_group && model_.notes.empty()) {
        model_.notes.push_back("listing stopped after " + std::to_string(limits_.max_objects) +
                               " objects and links");
      }
    } else {
      node.link_count = list.entries.size();
      std::sort(list.entries.begin(), list.entries.end(),
                [](const LinkEntry& a, const LinkEntry& b) { return a.name < b.name; });
    }
    objects_ += list.entries.size();
    node.children.reserve(list.entries.size());
    for (auto& entry : list.entries) {
      Node child;
      child.name = std::move(entry.name);
      read_link(group, entry, child, path + "/" + child.name, depth);
      node.children.push_back(std::move(child));
    }
  }

  void read_link(hid_t group, const LinkEntry& entry, Node& child, const std::string& path,
                 std::size_t depth) {
    switch (entry.type) {
      case H5L_TYPE_HARD:
        read_object(group, entry, child, path, depth);
        return;
      case H5L_TYPE_SOFT: {
        child.kind = Node::Kind::kSoftLink;
        child.target = link_value(group, child, child.name).value_or("");
        return;
      }
      case H5L_TYPE_EXTERNAL: {
        child.kind = Node::Kind::kExternalLink;
        auto value = link_value(group, child, child.name);
        if (!value) return;
        unsigned flags = 0;
        const char* file = nullptr;
        const char* object = nullptr;
        if (H5Lunpack_elink_val(value->data(), value->size(), &flags, &file, &object) >= 0) {
          child.target_file = file != nullptr ? file : "";
          child.target = object != nullptr ? object : "";
        } else {
          unreadable(child, "external link not readable: " + last_hdf5_error());
        }
        return;
      }
      default: {
        child.kind = Node::Kind::kUserDefinedLink;
        H5L_info_t info;
        if (H5Lget_info(group, child.name.c_str(), &info, H5P_DEFAULT) >= 0) {
          child.link_class = static_cast<int>(info.type);
        }
        return;
      }
    }
  }

  // The raw value of a soft or external link (never resolved).
  std::optional<std::string> link_value(hid_t group, Node& child, const std::string& name) {
    H5L_info_t info;
    if (H5Lget_info(group, name.c_str(), &info, H5P_DEFAULT) < 0 ||
        info.u.val_size > limits_.max_string_bytes) {
      unreadable(child, "link value not readable: " + last_hdf5_error());
      return std::nullopt;
    }
    std::string value(info.u.val_size, '\0');
    if (H5Lget_val(group, name.c_str(), value.data(), value.size(), H5P_DEFAULT) < 0) {
      unreadable(child, "link value not readable: " + last_hdf5_error());
      return std::nullopt;
    }
    if (info.type == H5L_TYPE_SOFT) value.resize(strnlen(value.c_str(), value.size()));
    return value;
  }

  void read_object(hid_t group, const LinkEntry& entry, Node& child, const std::string& path,
                   std::size_t depth) {
    child.address = entry.address;
    if (auto seen = kinds_.find(entry.address); seen != kinds_.end()) {
      child.kind = Node::Kind::kHardLink;
      child.target_kind = seen->second;
      return;
    }
    Handle object(H5Oopen(group, child.name.c_str(), H5P_DEFAULT));
    H5O_info_t info;
    if (!object || H5Oget_info2(object.get(), &info, H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS) < 0) {
      child.kind = Node::Kind::kUnreadable;
      unreadable(child, "object not readable: " + last_hdf5_error());
      return;
    }
    switch (info.type) {
      case H5O_TYPE_GROUP:
        child.kind = Node::Kind::kGroup;
        break;
      case H5O_TYPE_DATASET:
        child.kind = Node::Kind::kDataset;
        break;
      case H5O_TYPE_NAMED_DATATYPE:
        child.kind = Node::Kind::kDatatype;
        break;
      default:
        child.kind = Node::Kind::kOtherObject;
        break;
    }
    kinds_.emplace(entry.address, child.kind);
    model_.paths.emplace(entry.address, path);
    read_comment(object.get(), info.addr, child);
    read_attributes(object.get(), info.num_attrs, child);
    switch (child.kind) {
      case Node::Kind::kGroup:
        read_group(object.get(), child, path, depth + 1);
        break;
      case Node::Kind::kDataset:
        read_dataset(object.get(), child);
        break;
      case Node::Kind::kDatatype:
        child.datatype = describe_type(object.get(), limits_.max_type_depth);
        break;
      default:
        break;
    }
  }

  void read_dataset(hid_t dataset, Node& node) {
    node.dataset = std::make_unique<DatasetInfo>();
    DatasetInfo& info = *node.dataset;
    Handle type(H5Dget_type(dataset));
    if (type) {
      info.type = type_info(type.get()).text;
      info.committed_type = committed_address(type.get());
      if (info.committed_type && used_types_.size() < limits_.max_objects &&
          used_type_addresses_.insert(*info.committed_type).second) {
        // A second reference to the committed type itself (a copy would not be committed).
        Handle committed(H5Iinc_ref(type.get()) >= 0 ? type.get() : H5I_INVALID_HID);
        used_types_.push_back(UsedType{*info.committed_type, *info.type, std::move(committed)});
      }
    } else {
      unreadable(node, "datatype not readable: " + last_hdf5_error());
    }
    Handle space(H5Dget_space(dataset));
    if (space) info.space = describe_space(space.get());
    Handle dcpl(H5Dget_create_plist(dataset));
    if (dcpl) {
      read_storage_properties(dcpl.get(), info);
      if (type && (info.fill_state == "default" || info.fill_state == "user-defined")) {
        info.fill_value = read_fill_value(dcpl.get(), info.fill_state == "user-defined",
                                          type_info(type.get()).memory.get(), limits_);
      }
    }
    info.storage_size = H5Dget_storage_size(dataset);
  }

  const Limits& limits_;
  FileModel& model_;
  std::unordered_map<std::uint64_t, Node::Kind> kinds_;
  // Committed types of datasets in the order first used, with their text.
  struct UsedType {
    std::uint64_t address = 0;
    TypeText text;
    Handle type;  // kept open: an anonymous type's attributes are read at the end
  };
  std::vector<UsedType> used_types_;
  std::unordered_set<std::uint64_t> used_type_addresses_;
  // Looked up by the string_view of encoded_, without a copy.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const {
      return std::hash<std::string_view>{}(key);
    }
  };
  std::unordered_map<std::string, TypeInfo, KeyHash, std::equal_to<>> types_;
  std::string encoded_;  // the last type encoded, with slack
  std::string slack_;    // slack bytes only, to compare with
  TypeInfo uncached_;
  std::size_t objects_ = 0;
  std::size_t attributes_ = 0;
  std::size_t value_bytes_ = 0;
};

}  // namespace

void read_open_hdf5_file(long long file, const Limits& limits, FileModel& model) {
  configure_hdf5_library();
  H5Eclear2(H5E_DEFAULT);
  FileReader(limits, model).read(file);
}

void read_hdf5_file(int fd, const Limits& limits, FileModel& model) {
  configure_hdf5_library();
  H5Eclear2(H5E_DEFAULT);
  std::string error;
  Handle file(open_hdf5_file(fd, &error));
  if (!file) throw ExtractError("not a readable HDF5 file: " + error);
  read_open_hdf5_file(file.get(), limits, model);
}

}  // namespace metafs::extract::hdf5
