#include "netcdf/cdl_header.hpp"

#include <netcdf.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <deque>

#include "extraction.hpp"
#include "netcdf/attribute_data.hpp"
#include "netcdf/cdl_text.hpp"

namespace metafs::extract::nc {
namespace {

constexpr int kIndentStep = 2;
constexpr std::size_t kMaxLineLength = 80 - 2;  // ncdump's default -l 80, minus 2
constexpr const char* kContinuationIndent = "    ";
constexpr const char* kPropertiesAttribute = "_NCProperties";

// Writes the header. Member names follow ncdump's own functions so the two can be compared.
class CdlPrinter {
 public:
  CdlPrinter(int root, const TypeTable& types, const Limits& limits, DatasetReads& reads)
      : root_(root), types_(types), limits_(limits), reads_(reads) {}

  std::string print(std::string_view name) {
    out_ += "netcdf ";
    out_ += cdl_name(name);
    out_ += " {\n";
    print_group(root_, 0);
    out_ += "}\n";
    return std::move(out_);
  }

 private:
  void indent_out() { out_.append(static_cast<std::size_t>(indent_), ' '); }

  // Text that must not be split across lines: wraps first when it would pass the line
  // length (ncdump's lput, whose column survives between calls).
  void lput(const std::string& text) {
    if (text.size() + static_cast<std::size_t>(column_) > kMaxLineLength && text.size() > 2) {
      out_ += '\n';
      indent_out();
      out_ += kContinuationIndent;
      column_ = static_cast<int>(std::strlen(kContinuationIndent)) + indent_;
    }
    out_ += text;
    if (!text.empty() && text.back() == '\n') {
      column_ = indent_;
    } else {
      column_ += static_cast<int>(text.size());
    }
  }

  void note(const std::string& text) {
    indent_out();
    out_ += "// metafs: " + text + "\n";
  }

  // A type's name, with its group's path when the type is not visible from `group` by name.
  void print_type_name(int group, nc_type type) {
    const TypeInfo& info = types_.at(type);
    if (info.type_class != 0 && !type_visible(group, info.name)) {
      out_ += cdl_name(info.group_path);
      out_ += '/';
    }
    out_ += cdl_name(info.name);
  }

  bool type_visible(int group, const std::string& name) {
    for (int depth = 0; depth <= limits_.max_group_depth; ++depth) {
      int count = 0;
      check(nc_inq_typeids(group, &count, nullptr), "listing types");
      if (count > 0) {
        std::vector<nc_type> ids(static_cast<std::size_t>(count));
        check(nc_inq_typeids(group, nullptr, ids.data()), "listing types");
        for (nc_type id : ids) {
          std::array<char, NC_MAX_NAME + 1> found{};
          check(nc_inq_type(group, id, found.data(), nullptr), "reading a type");
          if (std::strncmp(name.c_str(), found.data(), NC_MAX_NAME) == 0) return true;
        }
      }
      int parent = 0;
      int status = nc_inq_grp_parent(group, &parent);
      if (status == NC_ENOGRP || status == NC_ENOTNC4) return false;
      check(status, "finding a parent group");
      group = parent;
    }
    return false;
  }

  void print_enum_type(const TypeInfo& type) {
    indent_out();
    lput(cdl_name(atomic_type_name(type.base)) + " enum " + cdl_name(type.name) + " {");
    for (std::size_t f = 0; f < type.member_count; ++f) {
      std::array<char, NC_MAX_NAME + 1> member{};
      long long raw = 0;  // wide enough for any base type
      check(nc_inq_enum_member(type.group, type.id, static_cast<int>(f), member.data(), &raw),
            "reading an enum member");
      long long value = enum_value(type.base, reinterpret_cast<const unsigned char*>(&raw));
      char number[32];
      std::snprintf(number, sizeof number, "%lld", value);
      lput(cdl_name(std::string(member.data(), strnlen(member.data(), NC_MAX_NAME))) + " = " +
           number + (f + 1 == type.member_count ? "} ;\n" : ", "));
    }
  }

  void print_user_type(int group, const TypeInfo& type) {
    switch (type.type_class) {
      case NC_VLEN:
        indent_out();
        print_type_name(group, type.base);
        out_ += "(*) ";
        print_type_name(group, type.id);
        out_ += " ;\n";
        break;
      case NC_OPAQUE:
        indent_out();
        out_ += "opaque(" + std::to_string(static_cast<int>(type.file_size)) + ") ";
        print_type_name(group, type.id);
        out_ += " ;\n";
        break;
      case NC_ENUM:
        print_enum_type(type);
        break;
      case NC_COMPOUND:
        indent_out();
        out_ += "compound ";
        print_type_name(group, type.id);
        out_ += " {\n";
        for (const CompoundField& field : type.fields) {
          indent_out();
          out_ += "  ";
          print_type_name(group, field.type);
          out_ += ' ';
          out_ += cdl_name(field.name);
          if (!field.dims.empty()) {
            out_ += '(';
            for (std::size_t d = 0; d < field.dims.size(); ++d) {
              if (d > 0) out_ += ", ";
              out_ += std::to_string(field.dims[d]);
            }
            out_ += ')';
          }
          out_ += " ;\n";
        }
        indent_out();
        out_ += "}; // ";
        print_type_name(group, type.id);
        out_ += '\n';
        break;
      default:
        throw ExtractError("unknown class of user-defined type '" + type.name + "'");
    }
  }

  void print_types(int group) {
    int count = 0;
    check(nc_inq_typeids(group, &count, nullptr), "listing types");
    if (count <= 0) return;
    std::vector<nc_type> ids(static_cast<std::size_t>(count));
    check(nc_inq_typeids(group, nullptr, ids.data()), "listing types");
    indent_out();
    out_ += "types:\n";
    indent_ += kIndentStep;
    for (nc_type id : ids) print_user_type(group, types_.at(id));
    indent_ -= kIndentStep;
  }

  void print_attribute(int group, int kind, int varid, const std::string& var_name, int index) {
    auto shared = reads_.attribute(group, varid, index);
    const AttributeData& att = *shared;
    const std::string& name = att.name();
    if (group == root_ && varid == NC_GLOBAL && name == kPropertiesAttribute) return;
    bool user_defined = types_.is_user_defined(att.type());
    indent_out();
    out_ += "\t\t";
    if (user_defined || att.type() == NC_STRING) {
      print_type_name(group, att.type());
      out_ += ' ';
    }
    out_ += cdl_name(var_name);
    if (is_cdl_keyword(var_name)) out_ += ' ';
    out_ += ':';
    out_ += cdl_name(name);
    out_ += " = ";
    if (att.too_large()) {
      out_ += "\"\" ; // metafs: " + std::to_string(att.length()) + " values not shown\n";
      return;
    }
    if (att.length() == 0) {
      out_ += "\"\" ;\n";  // ncdump shows every empty attribute as an empty string
      return;
    }
    if (!user_defined) {
      print_atomic_values(att, kind == NC_FORMAT_NETCDF4);
      out_ += " ;\n";
      return;
    }
    const TypeInfo& type = types_.at(att.type());
    switch (type.type_class) {
      case NC_VLEN:
      case NC_COMPOUND:
        for (std::size_t i = 0; i < att.length(); ++i) {
          std::string value;
          types_.append_value(value, att.type(), att.value(i));
          if (i + 1 < att.length()) value += ", ";
          lput(value);
        }
        break;
      case NC_OPAQUE:
        for (std::size_t i = 0; i < att.length(); ++i) {
          append_opaque_hex(out_, att.value(i), type.file_size);
          if (i + 1 < att.length()) out_ += ", ";
        }
        break;
      case NC_ENUM:
        for (std::size_t i = 0; i < att.length(); ++i) {
          long long value = enum_value(type.base, att.value(i));
          std::string member = enum_member_name(type.group, type.id, value);
          if (member.empty())
            throw ExtractError("attribute '" + name + "' holds a value its enum does not name");
          out_ += cdl_name(member);
          if (i + 1 < att.length()) out_ += ", ";
        }
        break;
      default:
        throw ExtractError("unknown class of user-defined type '" + type.name + "'");
    }
    out_ += " ;\n";
  }

  void print_atomic_values(const AttributeData& att, bool netcdf4) {
    if (att.type() == NC_CHAR) {
      append_att_text(out_, std::string_view(att.text(), att.length()), netcdf4);
      return;
    }
    for (std::size_t i = 0; i < att.length(); ++i) {
      if (att.type() == NC_STRING) {
        const char* s = nullptr;
        std::memcpy(&s, att.value(i), sizeof s);
        if (s != nullptr) {
          append_att_text(out_, s, netcdf4);
        } else {
          out_ += "NIL";
        }
      } else {
        append_att_number(out_, att.type(), att.value(i));
      }
      if (i + 1 < att.length()) out_ += ", ";
    }
  }

  void print_attributes(int group, int kind, int varid, const std::string& var_name, int count) {
    auto shown = static_cast<int>(
        std::min<std::size_t>(static_cast<std::size_t>(count), limits_.max_atts_per_object));
    for (int i = 0; i < shown; ++i) print_attribute(group, kind, varid, var_name, i);
    if (shown < count)
      note("only the first " + std::to_string(shown) + " of " + std::to_string(count) +
           " attributes are shown");
  }

  void print_dimensions(int group) {
    auto [ids, unlimited] = group_dimensions(group);
    if (ids.empty()) return;
    indent_out();
    out_ += "dimensions:\n";
    std::size_t shown = std::min(ids.size(), limits_.max_dims_per_group);
    for (std::size_t d = 0; d < shown; ++d) {
      auto [name, length] = reads_.dimension(group, ids[d]);
      indent_out();
      out_ += '\t';
      out_ += cdl_name(name);
      out_ += " = ";
      if (std::find(unlimited.begin(), unlimited.end(), ids[d]) != unlimited.end()) {
        out_ += "UNLIMITED ; // (" + std::to_string(length) + " currently)\n";
      } else {
        out_ += std::to_string(length) + " ;\n";
      }
    }
    if (shown < ids.size())
      note("only the first " + std::to_string(shown) + " of " + std::to_string(ids.size()) +
           " dimensions are shown");
  }

  // A variable's dimension name as ncdump 4.9.0 prints it: plain when the name finds it from
  // `group`; qualified with the path of the nearer group when a dimension of the same name
  // hides it. One in a group that is not an ancestor (netCDF-4 allows it) ncdump qualifies
  // with the path of the first group, breadth first from the root, that defines any
  // dimension (its search compares no ids), which is not always the owner.
  void print_dimension_ref(int group, int dimid) {
    const std::string& name = reads_.dimension_name(group, dimid);
    int owner = group;
    bool hidden = false;
    for (int depth = 0;; ++depth) {
      if (depth > limits_.max_group_depth) throw ExtractError("dimension lookup too deep");
      int found = 0;
      int status = nc_inq_dimid(owner, name.c_str(), &found);
      if (status != NC_EBADDIM) {
        check(status, "finding a dimension");
        if (found == dimid) break;
        hidden = true;
      }
      int parent = 0;
      status = nc_inq_grp_parent(owner, &parent);
      if (status == NC_ENOGRP) {
        owner = first_group_with_dimensions(owner);
        hidden = true;
        break;
      }
      check(status, "finding a dimension's group");
      owner = parent;
    }
    if (hidden) {
      std::string path = group_full_name(owner);
      out_ += cdl_name(path);
      if (path != "/") out_ += '/';
    }
    out_ += cdl_name(name);
  }

  // The first group, breadth first from `root`, that defines a dimension.
  int first_group_with_dimensions(int root) {
    std::deque<int> queue{root};
    for (std::size_t visited = 0; !queue.empty() && visited <= limits_.max_groups; ++visited) {
      int group = queue.front();
      queue.pop_front();
      int count = 0;
      check(nc_inq_dimids(group, &count, nullptr, 0), "counting dimensions");
      if (count > 0) return group;
      for (int child : subgroups(group)) queue.push_back(child);
    }
    throw ExtractError("finding a dimension: no group defines one");
  }

  void print_variable(int group, int kind, int varid) {
    int ndims = 0;
    check(nc_inq_varndims(group, varid, &ndims), "reading a variable");
    if (ndims < 0 || ndims > NC_MAX_VAR_DIMS) throw ExtractError("variable with a bad rank");
    std::vector<int> dims(static_cast<std::size_t>(ndims) + 1);
    std::array<char, NC_MAX_NAME + 1> name_buffer{};
    nc_type type = NC_NAT;
    int natts = 0;
    check(nc_inq_var(group, varid, name_buffer.data(), &type, nullptr, dims.data(), &natts),
          "reading a variable");
    std::string name(name_buffer.data(), strnlen(name_buffer.data(), NC_MAX_NAME));
    indent_out();
    out_ += '\t';
    print_type_name(group, type);
    out_ += ' ';
    out_ += cdl_name(name);
    if (ndims > 0) out_ += '(';
    for (int d = 0; d < ndims; ++d) {
      print_dimension_ref(group, dims[static_cast<std::size_t>(d)]);
      out_ += d + 1 < ndims ? ", " : ")";
    }
    out_ += " ;\n";
    print_attributes(group, kind, varid, name, natts);
  }

  void print_group(int group, int depth) {
    print_types(group);
    int ndims = 0;
    int nvars = 0;
    int ngatts = 0;
    int unlimited = 0;
    check(nc_inq(group, &ndims, &nvars, &ngatts, &unlimited), "reading a group");
    print_dimensions(group);
    if (nvars > 0) {
      indent_out();
      out_ += "variables:\n";
    }
    int kind = 0;
    check(nc_inq_format(group, &kind), "reading the format");
    auto shown = static_cast<int>(std::min<std::size_t>(
        static_cast<std::size_t>(std::max(nvars, 0)), limits_.max_vars_per_group));
    for (int v = 0; v < shown; ++v) print_variable(group, kind, v);
    if (shown < nvars)
      note("only the first " + std::to_string(shown) + " of " + std::to_string(nvars) +
           " variables are shown");
    if (ngatts > 0) {
      out_ += '\n';
      indent_out();
      out_ += group == root_ ? "// global attributes:\n" : "// group attributes:\n";
      print_attributes(group, kind, NC_GLOBAL, "", ngatts);
    }
    for (int child : subgroups(group)) {
      std::string name = cdl_name(group_name(child));
      out_ += '\n';
      indent_out();
      out_ += "group: " + name + " {\n";
      indent_ += kIndentStep;
      if (depth + 1 > limits_.max_group_depth || ++groups_ > limits_.max_groups) {
        note("groups nested deeper or more numerous than the limit are not shown");
      } else {
        print_group(child, depth + 1);
      }
      indent_out();
      out_ += "} // group " + name + "\n";
      indent_ -= kIndentStep;
    }
  }

  int root_;
  const TypeTable& types_;
  const Limits& limits_;
  DatasetReads& reads_;
  std::string out_;
  int indent_ = 0;
  int column_ = 0;
  std::size_t groups_ = 0;
};

}  // namespace

std::string dataset_name(std::string_view path) {
  std::size_t slash = path.rfind('/');
  std::string_view base = slash == std::string_view::npos ? path : path.substr(slash + 1);
  std::size_t dot = base.rfind('.');
  if (dot != std::string_view::npos) base = base.substr(0, dot);
  return std::string(base);
}

std::string cdl_header(int root, std::string_view name, const TypeTable& types,
                       const Limits& limits, DatasetReads& reads) {
  return CdlPrinter(root, types, limits, reads).print(name);
}

}  // namespace metafs::extract::nc
