#include "netcdf/type_table.hpp"

#include <array>
#include <cstring>

#include "extraction.hpp"
#include "netcdf/cdl_text.hpp"

namespace metafs::extract::nc {
namespace {

constexpr int kMaxValueDepth = 32;

}  // namespace

TypeTable::TypeTable(int root, const Limits& limits) {
  for (nc_type id = NC_BYTE; id <= NC_STRING; ++id) {
    TypeInfo info;
    info.id = id;
    info.name = std::string(atomic_type_name(id));
    info.size = atomic_type_size(id);
    info.file_size = info.size;
    types_.emplace(id, std::move(info));
  }
  int format = 0;
  check(nc_inq_format(root, &format), "reading the format");
  if (format == NC_FORMAT_NETCDF4) load_group(root, limits, 0);
}

void TypeTable::load_group(int ncid, const Limits& limits, int depth) {
  if (depth > limits.max_group_depth) return;
  int count = 0;
  check(nc_inq_typeids(ncid, &count, nullptr), "listing types");
  std::vector<nc_type> ids(static_cast<std::size_t>(count > 0 ? count : 0));
  if (!ids.empty()) check(nc_inq_typeids(ncid, nullptr, ids.data()), "listing types");
  std::string path = ids.empty() ? std::string() : group_full_name(ncid);
  for (nc_type id : ids) {
    if (types_.size() >= limits.max_types + NC_STRING) {
      truncated_ = true;
      break;
    }
    std::array<char, NC_MAX_NAME + 1> name{};
    TypeInfo info;
    info.id = id;
    info.group = ncid;
    info.group_path = path;
    check(nc_inq_user_type(ncid, id, name.data(), &info.file_size, &info.base, &info.member_count,
                           &info.type_class),
          "reading a user-defined type");
    info.name = std::string(name.data(), strnlen(name.data(), NC_MAX_NAME));
    info.size = info.type_class == NC_VLEN ? sizeof(nc_vlen_t) : info.file_size;
    if (info.type_class == NC_COMPOUND) {
      if (info.member_count > limits.max_atts_per_object)
        throw ExtractError("compound type '" + info.name + "' has too many members");
      for (std::size_t f = 0; f < info.member_count; ++f) {
        CompoundField field;
        std::array<char, NC_MAX_NAME + 1> field_name{};
        int ndims = 0;
        check(nc_inq_compound_field(ncid, id, static_cast<int>(f), field_name.data(), &field.offset,
                                    &field.type, &ndims, nullptr),
              "reading a compound member");
        if (ndims < 0 || ndims > NC_MAX_VAR_DIMS)
          throw ExtractError("compound member with a bad rank in '" + info.name + "'");
        field.name = std::string(field_name.data(), strnlen(field_name.data(), NC_MAX_NAME));
        field.dims.resize(static_cast<std::size_t>(ndims));
        if (ndims > 0)
          check(nc_inq_compound_fielddim_sizes(ncid, id, static_cast<int>(f), field.dims.data()),
                "reading a compound member");
        for (int d : field.dims) field.count *= static_cast<std::size_t>(d > 0 ? d : 0);
        info.fields.push_back(std::move(field));
      }
    }
    types_.insert_or_assign(id, std::move(info));
  }
  for (int child : subgroups(ncid)) load_group(child, limits, depth + 1);
}

const TypeInfo& TypeTable::at(nc_type id) const {
  auto it = types_.find(id);
  if (it == types_.end()) throw ExtractError("unknown type id " + std::to_string(id));
  return it->second;
}

void TypeTable::append_value(std::string& out, nc_type id, const unsigned char* value) const {
  append_value(out, id, value, 0);
}

void TypeTable::append_value(std::string& out, nc_type id, const unsigned char* value,
                             int depth) const {
  if (depth > kMaxValueDepth) throw ExtractError("user-defined types nested too deeply");
  const TypeInfo& type = at(id);
  switch (type.type_class) {
    case 0:
      append_data_value(out, id, value);
      break;
    case NC_ENUM: {
      long long v = enum_value(type.base, value);
      std::string member = enum_member_name(type.group, id, v);
      out += member.empty() ? std::to_string(v) : member;
      break;
    }
    case NC_OPAQUE:
      append_opaque_hex(out, value, type.file_size);
      break;
    case NC_VLEN: {
      auto vlen = load<nc_vlen_t>(value);
      const TypeInfo& base = at(type.base);
      out += '{';
      const auto* p = static_cast<const unsigned char*>(vlen.p);
      for (std::size_t i = 0; p != nullptr && i < vlen.len; ++i) {
        if (i > 0) out += ", ";
        append_value(out, type.base, p + i * base.size, depth + 1);
      }
      out += '}';
      break;
    }
    case NC_COMPOUND: {
      out += '{';
      for (std::size_t f = 0; f < type.fields.size(); ++f) {
        const CompoundField& field = type.fields[f];
        const unsigned char* p = value + field.offset;
        if (f > 0) out += ", ";
        if (field.dims.empty()) {
          append_value(out, field.type, p, depth + 1);
          continue;
        }
        out += '{';
        if (field.type == NC_CHAR) {
          // Char arrays print as strings along their last dimension.
          auto row = static_cast<std::size_t>(field.dims.back() > 0 ? field.dims.back() : 0);
          std::size_t rows = row == 0 ? 0 : field.count / row;
          for (std::size_t r = 0; r < rows; ++r) {
            if (r > 0) out += ", ";
            append_data_chars(out, reinterpret_cast<const char*>(p + r * row), row);
          }
        } else {
          std::size_t step = at(field.type).size;
          for (std::size_t i = 0; i < field.count; ++i) {
            if (i > 0) out += ", ";
            append_value(out, field.type, p + i * step, depth + 1);
          }
        }
        out += '}';
      }
      out += '}';
      break;
    }
    default:
      throw ExtractError("unknown class of user-defined type '" + type.name + "'");
  }
}

std::string enum_member_name(int group, nc_type enum_type, long long value) {
  std::array<char, NC_MAX_NAME + 1> name{};
  if (nc_inq_enum_ident(group, enum_type, value, name.data()) != NC_NOERR) return {};
  return std::string(name.data(), strnlen(name.data(), NC_MAX_NAME));
}

long long enum_value(nc_type base, const unsigned char* p) {
  switch (base) {
    case NC_BYTE:
      return load<signed char>(p);
    case NC_UBYTE:
      return load<unsigned char>(p);
    case NC_SHORT:
      return load<short>(p);
    case NC_USHORT:
      return load<unsigned short>(p);
    case NC_INT:
      return load<int>(p);
    case NC_UINT:
      return load<unsigned>(p);
    case NC_INT64:
      return load<long long>(p);
    case NC_UINT64:
      return static_cast<long long>(load<unsigned long long>(p));
    default:
      return 0;
  }
}

}  // namespace metafs::extract::nc
