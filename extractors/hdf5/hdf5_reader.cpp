#include "hdf5_reader.hpp"

#include <H5PLpublic.h>
#include <hdf5.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "extraction.hpp"
#include "hdf5_handle.hpp"
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

struct ErrorText {
  std::string outer;
  std::string inner;
};

herr_t collect_error(unsigned n, const H5E_error2_t* error, void* data) noexcept {
  auto* text = static_cast<ErrorText*>(data);
  try {
    std::string desc = error->desc != nullptr ? error->desc : "";
    if (n == 0) text->inner = desc;
    text->outer = desc;
  } catch (...) {
    return -1;
  }
  return 0;
}

Dataspace describe_space(hid_t space) {
  Dataspace out;
  switch (H5Sget_simple_extent_type(space)) {
    case H5S_SCALAR:
      out.cls = Dataspace::Class::kScalar;
      return out;
    case H5S_NULL:
      out.cls = Dataspace::Class::kNull;
      return out;
    case H5S_SIMPLE:
      out.cls = Dataspace::Class::kSimple;
      break;
    default:
      return out;
  }
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0 || rank > H5S_MAX_RANK) {
    out.cls = Dataspace::Class::kUnknown;
    return out;
  }
  std::array<hsize_t, H5S_MAX_RANK> dims{};
  std::array<hsize_t, H5S_MAX_RANK> max_dims{};
  if (H5Sget_simple_extent_dims(space, dims.data(), max_dims.data()) < 0) {
    out.cls = Dataspace::Class::kUnknown;
    return out;
  }
  for (int i = 0; i < rank; ++i) {
    auto k = static_cast<std::size_t>(i);
    out.dims.push_back(dims[k]);
    out.max_dims.push_back(max_dims[k] == H5S_UNLIMITED ? Dataspace::kUnlimited : max_dims[k]);
  }
  return out;
}

std::string describe_filter(H5Z_filter_t id, const std::vector<unsigned>& cd, const char* name) {
  auto param = [&](std::size_t i) { return i < cd.size() ? std::to_string(cd[i]) : "?"; };
  switch (id) {
    case H5Z_FILTER_DEFLATE:
      return "deflate level=" + param(0);
    case H5Z_FILTER_SHUFFLE:
      return "shuffle";
    case H5Z_FILTER_FLETCHER32:
      return "fletcher32";
    case H5Z_FILTER_SZIP: {
      unsigned mask = cd.empty() ? 0 : cd[0];
      std::string coding = (mask & H5_SZIP_EC_OPTION_MASK) != 0   ? "ec"
                           : (mask & H5_SZIP_NN_OPTION_MASK) != 0 ? "nn"
                                                                  : "?";
      return "szip coding=" + coding + " pixels_per_block=" + param(1);
    }
    case H5Z_FILTER_NBIT:
      return "nbit";
    case H5Z_FILTER_SCALEOFFSET: {
      std::string kind = cd.empty()   ? "?"
                         : cd[0] == 0 ? "float_dscale"
                         : cd[0] == 1 ? "float_escale"
                                      : "int";
      return "scaleoffset scale_type=" + kind + " factor=" + param(1);
    }
    default: {
      std::string text = "filter id=" + std::to_string(id);
      if (name != nullptr && name[0] != '\0') text += " name=" + std::string(name);
      if (!cd.empty()) {
        text += " params=";
        for (std::size_t i = 0; i < cd.size(); ++i) {
          if (i != 0) text += ' ';
          text += std::to_string(cd[i]);
        }
      }
      return text;
    }
  }
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
    read_attributes(group.get(), object.num_attrs, root);
    read_group(group.get(), root, "", 0);
  }

 private:
  // Files repeat a few types many times (1000 string attributes): key by the encoded type.
  const TypeInfo& type_info(hid_t type) {
    constexpr std::size_t kMaxCachedTypes = 4096;
    constexpr std::size_t kMaxEncodedSize = 64 << 10;
    constexpr char kSlackByte = '\x5a';
    std::string key;
    std::size_t size = 0;
    if (H5Tencode(type, nullptr, &size) >= 0 && size > 0 && size <= kMaxEncodedSize) {
      // A damaged type can encode longer than the size the library announced: keep slack
      // and give up caching when anything was written past the announced size.
      std::size_t announced = size;
      key.assign(announced * 2 + 256, kSlackByte);
      bool overran = H5Tencode(type, key.data(), &size) < 0 || size != announced ||
                     key.find_first_not_of(kSlackByte, announced) != std::string::npos;
      if (overran) {
        key.clear();
      } else {
        key.resize(announced);
      }
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
    return types_.emplace(std::move(key), std::move(info)).first->second;
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
      if (H5Tcommitted(type.get()) > 0) {
        H5O_info_t type_info;
        if (H5Oget_info2(type.get(), &type_info, H5O_INFO_BASIC) >= 0) {
          info.committed_type = type_info.addr;
        }
      }
    } else {
      unreadable(node, "datatype not readable: " + last_hdf5_error());
    }
    Handle space(H5Dget_space(dataset));
    if (space) info.space = describe_space(space.get());
    Handle dcpl(H5Dget_create_plist(dataset));
    if (dcpl) read_creation_properties(dcpl.get(), type, info);
    info.storage_size = H5Dget_storage_size(dataset);
  }

  void read_creation_properties(hid_t dcpl, const Handle& type, DatasetInfo& info) {
    switch (H5Pget_layout(dcpl)) {
      case H5D_COMPACT:
        info.layout = "compact";
        break;
      case H5D_CONTIGUOUS:
        info.layout = "contiguous";
        break;
      case H5D_CHUNKED: {
        info.layout = "chunked";
        std::array<hsize_t, H5S_MAX_RANK> dims{};
        int rank = H5Pget_chunk(dcpl, H5S_MAX_RANK, dims.data());
        for (int i = 0; i < rank && i < H5S_MAX_RANK; ++i) {
          info.chunks.push_back(dims[static_cast<std::size_t>(i)]);
        }
        break;
      }
      case H5D_VIRTUAL:
        info.layout = "virtual";
        break;
      default:
        info.layout = "unknown";
        break;
    }
    int filters = H5Pget_nfilters(dcpl);
    for (int i = 0; i < filters && i < 64; ++i) {
      unsigned flags = 0;
      std::size_t count = 32;
      std::vector<unsigned> cd(count);
      std::array<char, 256> name{};
      unsigned config = 0;
      H5Z_filter_t id = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &count, cd.data(),
                                       name.size(), name.data(), &config);
      if (id < 0) continue;
      cd.resize(std::min<std::size_t>(count, 32));
      info.filters.push_back(describe_filter(id, cd, name.data()));
    }
    H5D_fill_value_t state = H5D_FILL_VALUE_ERROR;
    if (H5Pfill_value_defined(dcpl, &state) >= 0) {
      switch (state) {
        case H5D_FILL_VALUE_UNDEFINED:
          info.fill_state = "undefined";
          break;
        case H5D_FILL_VALUE_DEFAULT:
          info.fill_state = "default";
          break;
        case H5D_FILL_VALUE_USER_DEFINED:
          info.fill_state = "user-defined";
          break;
        default:
          break;
      }
      if (state != H5D_FILL_VALUE_UNDEFINED && type) {
        info.fill_value = read_fill_value(dcpl, state == H5D_FILL_VALUE_USER_DEFINED,
                                          type_info(type.get()).memory.get(), limits_);
      }
    }
    int external = H5Pget_external_count(dcpl);
    for (int i = 0; i < external && i < 1024; ++i) {
      std::array<char, 1024> name{};
      off_t offset = 0;
      hsize_t size = 0;
      if (H5Pget_external(dcpl, static_cast<unsigned>(i), name.size(), name.data(), &offset,
                          &size) < 0) {
        continue;
      }
      std::string text = std::string(name.data()) + " offset=" + std::to_string(offset) + " size=";
      text += size == H5F_UNLIMITED ? "unlimited" : std::to_string(size);
      info.external_files.push_back(std::move(text));
    }
  }

  const Limits& limits_;
  FileModel& model_;
  std::unordered_map<std::uint64_t, Node::Kind> kinds_;
  std::unordered_map<std::string, TypeInfo> types_;
  TypeInfo uncached_;
  std::size_t objects_ = 0;
  std::size_t attributes_ = 0;
  std::size_t value_bytes_ = 0;
};

}  // namespace

void configure_hdf5_library() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  H5PLset_loading_state(0);
}

std::string last_hdf5_error() {
  ErrorText text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &text);
  H5Eclear2(H5E_DEFAULT);
  if (text.outer.empty()) return "unknown HDF5 library error";
  if (text.inner.empty() || text.inner == text.outer) return text.outer;
  return text.outer + ": " + text.inner;
}

long long open_hdf5_file(const std::filesystem::path& path, std::string* error) {
  // Created once: a property list costs as much as a small file's whole listing. Guarded by
  // hdf5_library_mutex() like every other library call; never closed.
  static const hid_t fapl = [] {
    hid_t list = H5Pcreate(H5P_FILE_ACCESS);
    // Read-only and network filesystems: no locks. Strong close: closing the file closes all.
    H5Pset_file_locking(list, false, true);
    H5Pset_fclose_degree(list, H5F_CLOSE_STRONG);
    // A walk visits each object header once: a small metadata cache serves it as well as
    // the default one that grows to 32 MiB on a big file.
    H5AC_cache_config_t cache;
    cache.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    if (H5Pget_mdc_config(list, &cache) >= 0) {
      cache.set_initial_size = true;
      cache.initial_size = 1 << 20;
      cache.min_size = 1 << 20;
      cache.max_size = 4 << 20;
      H5Pset_mdc_config(list, &cache);
    }
    return list;
  }();
  hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl < 0 ? H5P_DEFAULT : fapl);
  if (file < 0 && error != nullptr) *error = last_hdf5_error();
  return file;
}

void read_open_hdf5_file(long long file, const Limits& limits, FileModel& model) {
  configure_hdf5_library();
  H5Eclear2(H5E_DEFAULT);
  FileReader(limits, model).read(file);
}

void read_hdf5_file(const std::filesystem::path& path, const Limits& limits, FileModel& model) {
  configure_hdf5_library();
  H5Eclear2(H5E_DEFAULT);
  std::string error;
  Handle file(open_hdf5_file(path, &error));
  if (!file) throw ExtractError("not a readable HDF5 file: " + error);
  read_open_hdf5_file(file.get(), limits, model);
}

}  // namespace metafs::extract::hdf5
