#include "netcdf/field_values.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "netcdf/cdl_text.hpp"

namespace metafs::extract::nc {
namespace {

// The shortest text that reads back as the same value, in fixed notation unless the
// exponent is below -4 or at least 16 (Python's repr rule): 100000, 0.1, 1e-07, 1e+20.
template <typename T>
std::string shortest(T value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value < 0 ? "-Infinity" : "Infinity";
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string sci(buffer, result.ptr);
  std::size_t e = sci.find('e');
  int exponent = std::atoi(sci.c_str() + e + 1);
  if (exponent < -4 || exponent >= 16) return sci;
  std::string sign = sci[0] == '-' ? "-" : "";
  std::string digits;
  for (std::size_t i = sign.size(); i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  std::string out = sign;
  if (exponent < 0) {
    out += "0." + std::string(static_cast<std::size_t>(-exponent - 1), '0') + digits;
  } else if (static_cast<std::size_t>(exponent) + 1 >= digits.size()) {
    out += digits + std::string(static_cast<std::size_t>(exponent) + 1 - digits.size(), '0');
  } else {
    out += digits.substr(0, static_cast<std::size_t>(exponent) + 1) + "." +
           digits.substr(static_cast<std::size_t>(exponent) + 1);
  }
  return out;
}

std::string number_text(nc_type type, const unsigned char* p) {
  switch (type) {
    case NC_BYTE:
      return std::to_string(static_cast<int>(load<signed char>(p)));
    case NC_UBYTE:
      return std::to_string(static_cast<unsigned>(load<unsigned char>(p)));
    case NC_SHORT:
      return std::to_string(load<short>(p));
    case NC_USHORT:
      return std::to_string(load<unsigned short>(p));
    case NC_INT:
      return std::to_string(load<int>(p));
    case NC_UINT:
      return std::to_string(load<unsigned>(p));
    case NC_INT64:
      return std::to_string(load<long long>(p));
    case NC_UINT64:
      return std::to_string(load<unsigned long long>(p));
    case NC_FLOAT:
      return shortest(load<float>(p));
    case NC_DOUBLE:
      return shortest(load<double>(p));
    default:
      return {};
  }
}

void add_items(MetaTree& tree, NodeId parent, std::string_view name, std::vector<std::string> items,
               ValueKind kind, std::string_view separator) {
  if (items.size() == 1) {
    tree.add_value(parent, name, std::move(items.front()), kind);
  } else {
    tree.add_list(parent, name, std::move(items), kind, separator);
  }
}

}  // namespace

void add_attribute_value(MetaTree& tree, NodeId parent, std::string_view name,
                         const AttributeData& att, const TypeTable& types) {
  if (att.too_large()) {
    // Appended, not "(" + to_string(...): GCC 12 warns of an overlap there (-Wrestrict, a
    // false positive at -O3).
    std::string text = "(";
    text.append(std::to_string(att.length())).append(" values, too large to show)");
    tree.add_value(parent, name, std::move(text));
    return;
  }
  if (att.length() == 0) {
    // An empty text is ""; an empty array of numbers or strings is [] (netCDF4-python reads
    // an empty array; ncdump prints "" for both, in header.txt).
    if (att.type() == NC_CHAR) {
      tree.add_value(parent, name, "");
    } else {
      tree.add_list(parent, name, {}, ValueKind::kString, ", ");
    }
    return;
  }
  if (att.type() == NC_CHAR) {
    std::string_view text(att.text(), att.length());
    while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
    tree.add_value(parent, name, std::string(text));
    return;
  }
  std::vector<std::string> items;
  items.reserve(att.length());
  if (att.type() == NC_STRING) {
    for (std::size_t i = 0; i < att.length(); ++i) {
      const char* s = load<const char*>(att.value(i));
      items.emplace_back(s == nullptr ? "" : s);
    }
    return add_items(tree, parent, name, std::move(items), ValueKind::kString, "\n");
  }
  const TypeInfo& type = types.at(att.type());
  if (type.type_class == 0) {
    for (std::size_t i = 0; i < att.length(); ++i)
      items.push_back(number_text(att.type(), att.value(i)));
    return add_items(tree, parent, name, std::move(items), ValueKind::kNumber, ", ");
  }
  for (std::size_t i = 0; i < att.length(); ++i) {
    std::string item;
    if (type.type_class == NC_ENUM) {
      long long value = enum_value(type.base, att.value(i));
      item = enum_member_name(type.group, type.id, value);
      if (item.empty()) item = std::to_string(value);
    } else if (type.type_class == NC_OPAQUE) {
      append_opaque_hex(item, att.value(i), type.file_size);
    } else {
      types.append_value(item, att.type(), att.value(i));
    }
    items.push_back(std::move(item));
  }
  add_items(tree, parent, name, std::move(items), ValueKind::kString, ", ");
}

}  // namespace metafs::extract::nc
