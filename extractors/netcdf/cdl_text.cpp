#include "netcdf/cdl_text.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace metafs::extract::nc {
namespace {

bool is_c_control(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}
bool is_c_print(unsigned char c) {
  return c >= 0x20 && c < 0x7f;
}

void append_format(std::string& out, const char* format, auto... args) {
  char buffer[64];
  int n = std::snprintf(buffer, sizeof buffer, format, args...);
  if (n > 0)
    out.append(buffer, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buffer - 1));
}

// Drops trailing zeros after the decimal point but keeps the point ("1.500000e+20" ->
// "1.5e+20", "2.000000" -> "2."), like ncdump's tztrim.
std::string trim_zeros(std::string s) {
  std::size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0 || s[i - 1] == '.') return s;
  std::size_t end = i;  // one past the last digit
  std::size_t j = i - 1;
  while (j > 0 && s[j] == '0') --j;
  ++j;
  if (j == end) return s;
  return s.substr(0, j) + s.substr(end);
}

void append_special(std::string& out, double value, bool is_float) {
  if (std::isnan(value)) {
    out += "NaN";
  } else {
    if (value < 0) out += '-';
    out += "Infinity";
  }
  if (is_float) out += 'f';
}

// One value of an atomic integer type in decimal; false, appending nothing, for other types.
bool append_integer(std::string& out, nc_type type, const unsigned char* value) {
  switch (type) {
    case NC_BYTE:
      append_format(out, "%d", static_cast<int>(load<signed char>(value)));
      return true;
    case NC_SHORT:
      append_format(out, "%d", static_cast<int>(load<short>(value)));
      return true;
    case NC_INT:
      append_format(out, "%d", load<int>(value));
      return true;
    case NC_UBYTE:
      append_format(out, "%u", static_cast<unsigned>(load<unsigned char>(value)));
      return true;
    case NC_USHORT:
      append_format(out, "%u", static_cast<unsigned>(load<unsigned short>(value)));
      return true;
    case NC_UINT:
      append_format(out, "%u", load<unsigned>(value));
      return true;
    case NC_INT64:
      append_format(out, "%lld", load<long long>(value));
      return true;
    case NC_UINT64:
      append_format(out, "%llu", load<unsigned long long>(value));
      return true;
    default:
      return false;
  }
}

// CDL's type suffix of an integer attribute value ("3s", "7UB"; none for int).
std::string_view integer_suffix(nc_type type) {
  switch (type) {
    case NC_BYTE:
      return "b";
    case NC_SHORT:
      return "s";
    case NC_UBYTE:
      return "UB";
    case NC_USHORT:
      return "US";
    case NC_UINT:
      return "U";
    case NC_INT64:
      return "LL";
    case NC_UINT64:
      return "ULL";
    default:
      return "";
  }
}

}  // namespace

std::string cdl_name(std::string_view name) {
  std::string out;
  out.reserve(name.size() + 4);
  if (!name.empty() && name[0] >= '0' && name[0] <= '9') out += '\\';
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      out += ch;  // a UTF-8 byte
    } else if (is_c_control(c)) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\%%%.2x", static_cast<unsigned>(c));
      out += hex;
    } else if (std::strchr(" !\"#$&'()*,:;<=>?[]\\^`{|}~", ch) != nullptr) {
      out += '\\';
      out += ch;
    } else {
      out += ch;
    }
  }
  return out;
}

bool is_cdl_keyword(std::string_view name) {
  return name == "variables" || name == "dimensions" || name == "data" || name == "group" ||
         name == "types";
}

std::string_view atomic_type_name(nc_type type) {
  switch (type) {
    case NC_BYTE:
      return "byte";
    case NC_CHAR:
      return "char";
    case NC_SHORT:
      return "short";
    case NC_INT:
      return "int";
    case NC_FLOAT:
      return "float";
    case NC_DOUBLE:
      return "double";
    case NC_UBYTE:
      return "ubyte";
    case NC_USHORT:
      return "ushort";
    case NC_UINT:
      return "uint";
    case NC_INT64:
      return "int64";
    case NC_UINT64:
      return "uint64";
    case NC_STRING:
      return "string";
    default:
      return "";
  }
}

std::size_t atomic_type_size(nc_type type) {
  switch (type) {
    case NC_BYTE:
    case NC_CHAR:
    case NC_UBYTE:
      return 1;
    case NC_SHORT:
    case NC_USHORT:
      return 2;
    case NC_INT:
    case NC_UINT:
    case NC_FLOAT:
      return 4;
    case NC_DOUBLE:
    case NC_INT64:
    case NC_UINT64:
      return 8;
    case NC_STRING:
      return sizeof(char*);
    default:
      return 0;
  }
}

void append_att_text(std::string& out, std::string_view text, bool netcdf4) {
  while (!text.empty() && text.back() == '\0') text.remove_suffix(1);
  out += '"';
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += netcdf4 ? "\\n" : "\\n\",\n\t\t\t\"";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\v':
        out += "\\v";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      case '"':
        out += "\\\"";
        break;
      default:
        if (is_c_control(c)) {
          append_format(out, "\\%03o", static_cast<unsigned>(c));
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void append_att_number(std::string& out, nc_type type, const unsigned char* value) {
  if (append_integer(out, type, value)) {
    out += integer_suffix(type);
    return;
  }
  switch (type) {
    case NC_FLOAT: {
      float f = load<float>(value);
      if (!std::isfinite(f)) return append_special(out, f, true);
      std::string s;
      append_format(s, "%#.7gf", static_cast<double>(f));
      out += trim_zeros(std::move(s));
      break;
    }
    case NC_DOUBLE: {
      double d = load<double>(value);
      if (!std::isfinite(d)) return append_special(out, d, false);
      std::string s;
      append_format(s, "%#.15g", d);
      out += trim_zeros(std::move(s));
      break;
    }
    default:
      break;
  }
}

void append_data_value(std::string& out, nc_type type, const unsigned char* value) {
  if (append_integer(out, type, value)) return;
  switch (type) {
    case NC_CHAR:
      append_data_chars(out, reinterpret_cast<const char*>(value), 1);
      break;
    case NC_FLOAT: {
      float f = load<float>(value);
      if (!std::isfinite(f)) return append_special(out, f, true);
      append_format(out, "%.7g", static_cast<double>(f));
      break;
    }
    case NC_DOUBLE: {
      double d = load<double>(value);
      if (!std::isfinite(d)) return append_special(out, d, false);
      append_format(out, "%.15g", d);
      break;
    }
    case NC_STRING: {
      const char* s = load<const char*>(value);
      if (s == nullptr) {
        out += "NIL";
        break;
      }
      out += '"';
      for (; *s != '\0'; ++s) {
        auto c = static_cast<unsigned char>(*s);
        switch (c) {
          case '\b':
            out += "\\b";
            break;
          case '\f':
            out += "\\f";
            break;
          case '\n':
            out += "\\n";
            break;
          case '\r':
            out += "\\r";
            break;
          case '\t':
            out += "\\t";
            break;
          case '\v':
            out += "\\n";
            break;  // sic: ncdump prints \v as \n in data
          case '\\':
            out += "\\\\";
            break;
          case '\'':
            out += "\\'";
            break;
          case '"':
            out += "\\\"";
            break;
          default:
            if (is_c_control(c)) {
              append_format(out, "\\%03o", static_cast<unsigned>(c));
            } else {
              out += *s;
            }
        }
      }
      out += '"';
      break;
    }
    default:
      break;
  }
}

void append_data_chars(std::string& out, const char* chars, std::size_t len) {
  while (len != 0 && chars[len - 1] == '\0') --len;
  out += '"';
  for (std::size_t i = 0; i < len; ++i) {
    auto c = static_cast<unsigned char>(chars[i]);
    switch (c) {
      case '\b':
      case '\f':
      case '\n':
      case '\r':
      case '\t':
      case '\v':
      case '\\':
      case '\'':
      case '"':
        out += '\\';  // sic: ncdump keeps the raw character after the backslash here
        out += chars[i];
        break;
      default:
        if (is_c_print(c)) {
          out += chars[i];
        } else {
          append_format(out, "\\%.3o", static_cast<unsigned>(c));
        }
    }
  }
  out += '"';
}

void append_opaque_hex(std::string& out, const unsigned char* bytes, std::size_t size) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out += "0X";
  for (std::size_t i = 0; i < size; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xf];
  }
}

}  // namespace metafs::extract::nc
