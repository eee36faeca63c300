#include "netcdf/netcdf_fields.hpp"

#include <netcdf.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "extraction.hpp"
#include "netcdf/attribute_data.hpp"
#include "netcdf/cdl_text.hpp"
#include "netcdf/dataset_reads.hpp"
#include "netcdf/field_values.hpp"

namespace metafs::extract::nc {
namespace {

constexpr const char* kPropertiesAttribute = "_NCProperties";

std::string_view class_name(int type_class) {
  switch (type_class) {
    case NC_VLEN:
      return "vlen";
    case NC_OPAQUE:
      return "opaque";
    case NC_ENUM:
      return "enum";
    case NC_COMPOUND:
      return "compound";
    default:
      return "atomic";
  }
}

class FieldBuilder {
 public:
  FieldBuilder(int root, MetaTree& tree, const TypeTable& types, const Limits& limits,
               DatasetReads& reads)
      : root_(root), tree_(tree), types_(types), limits_(limits), reads_(reads) {}

  void build() {
    int format = 0;
    check(nc_inq_format(root_, &format), "reading the format");
    tree_.add_value(MetaTree::kRoot, Verbatim{"format_variant"}, format_variant(format));
    add_group(root_, MetaTree::kRoot, 0);
  }

 private:
  void note(NodeId dir, const std::string& text) {
    tree_.add_value(dir, Verbatim{"truncated"}, text);
  }

  std::string limited(std::string_view what, std::size_t shown, std::size_t total) {
    return "only the first " + std::to_string(shown) + " of " + std::to_string(total) + " " +
           std::string(what) + " are shown";
  }

  void add_attributes(int group, int varid, int count, NodeId owner) {
    bool root_globals = group == root_ && varid == NC_GLOBAL;
    bool properties = false;
    if (root_globals) {
      nc_type type = NC_NAT;
      std::size_t length = 0;
      properties = nc_inq_att(group, varid, kPropertiesAttribute, &type, &length) == NC_NOERR;
    }
    if (count <= 0 && !properties) return;
    NodeId dir = tree_.dir(owner, Verbatim{"attributes"});
    std::size_t total = static_cast<std::size_t>(std::max(count, 0));
    std::size_t shown = std::min(total, limits_.max_atts_per_object);
    for (std::size_t i = 0; i < shown; ++i) {
      auto att = reads_.attribute(group, varid, static_cast<int>(i));
      if (root_globals && att->name() == kPropertiesAttribute) properties = false;  // listed
      add_attribute_value(tree_, dir, att->name(), *att, types_);
    }
    if (properties) {
      // The library hides it from the list; it says which library versions wrote the file.
      AttributeData att(group, varid, kPropertiesAttribute, types_, limits_.max_attribute_bytes);
      add_attribute_value(tree_, dir, kPropertiesAttribute, att, types_);
    }
    if (shown < total) note(owner, limited("attributes", shown, total));
  }

  void add_dimensions(int group, NodeId owner) {
    auto [ids, unlimited] = group_dimensions(group);
    if (ids.empty()) return;
    NodeId dir = tree_.dir(owner, Verbatim{"dimensions"});
    std::vector<std::string> unlimited_names;
    std::size_t shown = std::min(ids.size(), limits_.max_dims_per_group);
    for (std::size_t d = 0; d < shown; ++d) {
      auto [name, length] = reads_.dimension(group, ids[d]);
      tree_.add_value(dir, name, std::to_string(length), ValueKind::kNumber);
      if (std::find(unlimited.begin(), unlimited.end(), ids[d]) != unlimited.end())
        unlimited_names.push_back(std::move(name));
    }
    if (!unlimited_names.empty())
      tree_.add_list(owner, Verbatim{"unlimited_dimensions"}, std::move(unlimited_names),
                     ValueKind::kString, ", ");
    if (shown < ids.size()) note(owner, limited("dimensions", shown, ids.size()));
  }

  void add_types(int group, NodeId owner) {
    int count = 0;
    check(nc_inq_typeids(group, &count, nullptr), "listing types");
    if (count <= 0) return;
    std::vector<nc_type> ids(static_cast<std::size_t>(count));
    check(nc_inq_typeids(group, nullptr, ids.data()), "listing types");
    NodeId dir = tree_.dir(owner, Verbatim{"types"});
    for (nc_type id : ids) {
      const TypeInfo& type = types_.at(id);
      NodeId node = tree_.add_dir(dir, type.name);
      tree_.add_value(node, Verbatim{"class"}, std::string(class_name(type.type_class)));
      tree_.add_value(node, Verbatim{"size"}, std::to_string(type.file_size), ValueKind::kNumber);
      if (type.type_class == NC_VLEN || type.type_class == NC_ENUM)
        tree_.add_value(node, Verbatim{"base_type"}, types_.at(type.base).name);
      if (type.type_class == NC_ENUM) {
        NodeId members = tree_.dir(node, Verbatim{"members"});
        for (std::size_t m = 0; m < type.member_count; ++m) {
          std::array<char, NC_MAX_NAME + 1> member{};
          long long raw = 0;
          check(nc_inq_enum_member(group, id, static_cast<int>(m), member.data(), &raw),
                "reading an enum member");
          long long value = enum_value(type.base, reinterpret_cast<const unsigned char*>(&raw));
          std::string text = type.base == NC_UINT64
                                 ? std::to_string(static_cast<unsigned long long>(value))
                                 : std::to_string(value);
          tree_.add_value(members,
                          std::string_view(member.data(), strnlen(member.data(), NC_MAX_NAME)),
                          std::move(text), ValueKind::kNumber);
        }
      }
      if (type.type_class == NC_COMPOUND) {
        NodeId members = tree_.dir(node, Verbatim{"members"});
        for (const CompoundField& field : type.fields) {
          NodeId f = tree_.add_dir(members, field.name);
          tree_.add_value(f, Verbatim{"type"}, types_.at(field.type).name);
          tree_.add_value(f, Verbatim{"offset"}, std::to_string(field.offset), ValueKind::kNumber);
          if (!field.dims.empty()) {
            std::vector<std::string> shape;
            for (int d : field.dims) shape.push_back(std::to_string(d));
            tree_.add_list(f, Verbatim{"shape"}, std::move(shape), ValueKind::kNumber, ", ");
          }
        }
      }
    }
  }

  void add_variable(int group, int varid, NodeId dir) {
    int ndims = 0;
    check(nc_inq_varndims(group, varid, &ndims), "reading a variable");
    if (ndims < 0 || ndims > NC_MAX_VAR_DIMS) throw ExtractError("variable with a bad rank");
    std::vector<int> dims(static_cast<std::size_t>(ndims) + 1);
    std::array<char, NC_MAX_NAME + 1> name_buffer{};
    nc_type type = NC_NAT;
    int natts = 0;
    check(nc_inq_var(group, varid, name_buffer.data(), &type, nullptr, dims.data(), &natts),
          "reading a variable");
    NodeId node = tree_.add_dir(
        dir, std::string_view(name_buffer.data(), strnlen(name_buffer.data(), NC_MAX_NAME)));
    tree_.add_value(node, Verbatim{"type"}, types_.at(type).name);
    if (ndims > 0) {
      std::vector<std::string> names;
      std::vector<std::string> shape;
      for (int d = 0; d < ndims; ++d) {
        int dimid = dims[static_cast<std::size_t>(d)];
        names.push_back(reads_.dimension_name(group, dimid));
        shape.push_back(std::to_string(reads_.dimension_length(group, dimid)));
      }
      tree_.add_list(node, Verbatim{"dimensions"}, std::move(names), ValueKind::kString, ", ");
      tree_.add_list(node, Verbatim{"shape"}, std::move(shape), ValueKind::kNumber, ", ");
    }
    add_attributes(group, varid, natts, node);
  }

  void add_group(int group, NodeId owner, int depth) {
    add_types(group, owner);
    add_dimensions(group, owner);
    int nvars = 0;
    check(nc_inq_nvars(group, &nvars), "counting variables");
    if (nvars > 0) {
      NodeId dir = tree_.dir(owner, Verbatim{"variables"});
      auto total = static_cast<std::size_t>(nvars);
      std::size_t shown = std::min(total, limits_.max_vars_per_group);
      for (std::size_t v = 0; v < shown; ++v) add_variable(group, static_cast<int>(v), dir);
      if (shown < total) note(owner, limited("variables", shown, total));
    }
    int natts = 0;
    check(nc_inq_natts(group, &natts), "counting attributes");
    add_attributes(group, NC_GLOBAL, natts, owner);
    std::vector<int> children = subgroups(group);
    if (children.empty()) return;
    if (depth + 1 > limits_.max_group_depth) {
      note(owner, "groups nested deeper than " + std::to_string(limits_.max_group_depth) +
                      " levels are not shown");
      return;
    }
    NodeId dir = tree_.dir(owner, Verbatim{"groups"});
    for (int child : children) {
      if (++groups_ > limits_.max_groups) {
        note(owner, "only the first " + std::to_string(limits_.max_groups) +
                        " groups of the file are shown");
        return;
      }
      add_group(child, tree_.add_dir(dir, group_name(child)), depth + 1);
    }
  }

  int root_;
  MetaTree& tree_;
  const TypeTable& types_;
  const Limits& limits_;
  DatasetReads& reads_;
  std::size_t groups_ = 0;
};

}  // namespace

std::string format_variant(int format) {
  switch (format) {
    case NC_FORMAT_CLASSIC:
      return "classic";
    case NC_FORMAT_64BIT_OFFSET:
      return "64-bit offset";
    case NC_FORMAT_CDF5:
      return "cdf5";
    case NC_FORMAT_NETCDF4:
      return "netCDF-4";
    case NC_FORMAT_NETCDF4_CLASSIC:
      return "netCDF-4 classic model";
    default:
      return "unknown (" + std::to_string(format) + ")";
  }
}

void add_fields(int root, MetaTree& tree, const TypeTable& types, const Limits& limits,
                DatasetReads& reads) {
  FieldBuilder(root, tree, types, limits, reads).build();
}

}  // namespace metafs::extract::nc
