#include "hdf5_type_text.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "hdf5_handle.hpp"

namespace metafs::extract::hdf5 {
namespace {

// Writes one notation: line breaks become newlines plus indentation, or single spaces.
class TypePrinter {
 public:
  TypePrinter(bool compact, std::size_t max_depth) : compact_(compact), max_depth_(max_depth) {}

  std::string take() { return std::move(out_); }

  void print(hid_t type, int level, std::size_t depth) {
    if (depth > max_depth_) {
      out_ += "...";
      return;
    }
    switch (H5Tget_class(type)) {
      case H5T_INTEGER:
        out_ += integer_name(type);
        break;
      case H5T_FLOAT:
        out_ += float_name(type);
        break;
      case H5T_BITFIELD:
        out_ += bitfield_name(type);
        break;
      case H5T_STRING:
        print_string(type, level);
        break;
      case H5T_COMPOUND:
        print_compound(type, level, depth);
        break;
      case H5T_ENUM:
        print_enum(type, level, depth);
        break;
      case H5T_VLEN: {
        out_ += "H5T_VLEN { ";
        Handle base(H5Tget_super(type));
        print_or_unknown(base, level, depth);
        out_ += "}";
        break;
      }
      case H5T_ARRAY:
        print_array(type, level, depth);
        break;
      case H5T_REFERENCE:
        out_ += H5Tequal(type, H5T_STD_REF_DSETREG) > 0 ? "H5T_REFERENCE { H5T_STD_REF_DSETREG }"
                                                        : "H5T_REFERENCE { H5T_STD_REF_OBJECT }";
        break;
      case H5T_OPAQUE: {
        out_ += "H5T_OPAQUE {";
        line(level + 1);
        char* tag = H5Tget_tag(type);
        out_ += "OPAQUE_TAG \"";
        if (tag != nullptr) out_ += tag;
        out_ += "\";";
        H5free_memory(tag);
        line(level);
        out_ += "}";
        break;
      }
      case H5T_TIME:
        out_ += "H5T_TIME: not yet implemented";
        break;
      default:
        out_ += "unknown datatype";
        break;
    }
  }

 private:
  // A name as the block keeps it: a newline in it is NUL (names cannot hold NUL), so that the
  // header indents only the block's own lines.
  void name(const std::string& text) {
    if (compact_) {
      out_ += text;
      return;
    }
    for (char c : text) out_ += c == '\n' ? '\0' : c;
  }

  void line(int level) {
    if (compact_) {
      out_ += ' ';
    } else {
      out_ += '\n';
      out_.append(static_cast<std::size_t>(level) * 3, ' ');
    }
  }

  void print_or_unknown(const Handle& type, int level, std::size_t depth) {
    if (type) {
      print(type.get(), level, depth + 1);
    } else {
      out_ += "unknown datatype";
    }
  }

  // h5dump's description of a number type that is not one of the standard ones.
  static std::string nonstandard_name(hid_t type, const char* what) {
    std::string order;
    switch (H5Tget_order(type)) {
      case H5T_ORDER_LE:
        order = " little-endian";
        break;
      case H5T_ORDER_BE:
        order = " big-endian";
        break;
      case H5T_ORDER_VAX:
        order = " mixed-endian";
        break;
      default:
        break;
    }
    std::string sign;
    if (H5Tget_class(type) == H5T_INTEGER) {
      H5T_sign_t s = H5Tget_sign(type);
      sign = s == H5T_SGN_NONE ? " unsigned" : s == H5T_SGN_2 ? "" : " unknown-sign";
    }
    return std::to_string(H5Tget_size(type) * 8) + "-bit" + order + sign + " " + what + " " +
           std::to_string(H5Tget_precision(type)) + "-bit precision";
  }

  static std::string order_suffix(hid_t type) {
    return H5Tget_order(type) == H5T_ORDER_BE ? "BE" : "LE";
  }

  // A standard name only when the type really is that standard type, as h5dump does.
  static std::string standard_name(hid_t type, const std::string& name,
                                   const std::vector<std::pair<hid_t, const char*>>& table,
                                   const std::string& fallback) {
    for (const auto& [std_type, std_name] : table) {
      if (name == std_name && H5Tequal(type, std_type) > 0) return name;
    }
    return fallback;
  }

  static std::string integer_name(hid_t type) {
    static const std::vector<std::pair<hid_t, const char*>> kTable = {
        {H5T_STD_I8BE, "H5T_STD_I8BE"},   {H5T_STD_I8LE, "H5T_STD_I8LE"},
        {H5T_STD_I16BE, "H5T_STD_I16BE"}, {H5T_STD_I16LE, "H5T_STD_I16LE"},
        {H5T_STD_I32BE, "H5T_STD_I32BE"}, {H5T_STD_I32LE, "H5T_STD_I32LE"},
        {H5T_STD_I64BE, "H5T_STD_I64BE"}, {H5T_STD_I64LE, "H5T_STD_I64LE"},
        {H5T_STD_U8BE, "H5T_STD_U8BE"},   {H5T_STD_U8LE, "H5T_STD_U8LE"},
        {H5T_STD_U16BE, "H5T_STD_U16BE"}, {H5T_STD_U16LE, "H5T_STD_U16LE"},
        {H5T_STD_U32BE, "H5T_STD_U32BE"}, {H5T_STD_U32LE, "H5T_STD_U32LE"},
        {H5T_STD_U64BE, "H5T_STD_U64BE"}, {H5T_STD_U64LE, "H5T_STD_U64LE"},
    };
    std::string name = std::string("H5T_STD_") + (H5Tget_sign(type) == H5T_SGN_NONE ? "U" : "I") +
                       std::to_string(H5Tget_size(type) * 8) + order_suffix(type);
    return standard_name(type, name, kTable, nonstandard_name(type, "integer"));
  }

  static std::string float_name(hid_t type) {
    static const std::vector<std::pair<hid_t, const char*>> kTable = {
        {H5T_IEEE_F32BE, "H5T_IEEE_F32BE"}, {H5T_IEEE_F32LE, "H5T_IEEE_F32LE"},
        {H5T_IEEE_F64BE, "H5T_IEEE_F64BE"}, {H5T_IEEE_F64LE, "H5T_IEEE_F64LE"},
        {H5T_VAX_F32, "H5T_VAX_F32"},       {H5T_VAX_F64, "H5T_VAX_F64"},
    };
    std::string name =
        H5Tget_order(type) == H5T_ORDER_VAX
            ? "H5T_VAX_F" + std::to_string(H5Tget_size(type) * 8)
            : "H5T_IEEE_F" + std::to_string(H5Tget_size(type) * 8) + order_suffix(type);
    return standard_name(type, name, kTable, nonstandard_name(type, "floating-point"));
  }

  static std::string bitfield_name(hid_t type) {
    static const std::vector<std::pair<hid_t, const char*>> kTable = {
        {H5T_STD_B8BE, "H5T_STD_B8BE"},   {H5T_STD_B8LE, "H5T_STD_B8LE"},
        {H5T_STD_B16BE, "H5T_STD_B16BE"}, {H5T_STD_B16LE, "H5T_STD_B16LE"},
        {H5T_STD_B32BE, "H5T_STD_B32BE"}, {H5T_STD_B32LE, "H5T_STD_B32LE"},
        {H5T_STD_B64BE, "H5T_STD_B64BE"}, {H5T_STD_B64LE, "H5T_STD_B64LE"},
    };
    std::string name = "H5T_STD_B" + std::to_string(H5Tget_size(type) * 8) + order_suffix(type);
    return standard_name(type, name, kTable, "undefined bitfield");
  }

  void print_string(hid_t type, int level) {
    out_ += "H5T_STRING {";
    line(level + 1);
    if (H5Tis_variable_str(type) > 0) {
      out_ += "STRSIZE H5T_VARIABLE;";
    } else {
      out_ += "STRSIZE " + std::to_string(H5Tget_size(type)) + ";";
    }
    line(level + 1);
    switch (H5Tget_strpad(type)) {
      case H5T_STR_NULLTERM:
        out_ += "STRPAD H5T_STR_NULLTERM;";
        break;
      case H5T_STR_NULLPAD:
        out_ += "STRPAD H5T_STR_NULLPAD;";
        break;
      case H5T_STR_SPACEPAD:
        out_ += "STRPAD H5T_STR_SPACEPAD;";
        break;
      default:
        out_ += "STRPAD H5T_STR_ERROR;";
        break;
    }
    line(level + 1);
    switch (H5Tget_cset(type)) {
      case H5T_CSET_ASCII:
        out_ += "CSET H5T_CSET_ASCII;";
        break;
      case H5T_CSET_UTF8:
        out_ += "CSET H5T_CSET_UTF8;";
        break;
      default:
        out_ += "CSET unknown_cset;";
        break;
    }
    line(level + 1);
    out_ += string_ctype(type);
    line(level);
    out_ += "}";
  }

  // h5dump compares the type with C_S1 / FORTRAN_S1 given the same size, padding and cset,
  // first as they are and then in the type's byte order (variable-length strings of a
  // big-endian file are big-endian).
  static std::string string_ctype(hid_t type) {
    for (auto [base, name] : std::array<std::pair<hid_t, const char*>, 2>{
             {{H5T_C_S1, "CTYPE H5T_C_S1;"}, {H5T_FORTRAN_S1, "CTYPE H5T_FORTRAN_S1;"}}}) {
      Handle probe(H5Tcopy(base));
      if (!probe) continue;
      if (H5Tis_variable_str(type) > 0) {
        H5Tset_size(probe.get(), H5T_VARIABLE);
      } else {
        H5Tset_size(probe.get(), H5Tget_size(type));
      }
      H5Tset_strpad(probe.get(), H5Tget_strpad(type));
      H5Tset_cset(probe.get(), H5Tget_cset(type));
      if (H5Tequal(type, probe.get()) > 0) return name;
      H5T_order_t order = H5Tget_order(type);
      if ((order == H5T_ORDER_LE || order == H5T_ORDER_BE) &&
          H5Tset_order(probe.get(), order) >= 0 && H5Tequal(type, probe.get()) > 0) {
        return name;
      }
    }
    return "CTYPE unknown_one_character_type;";
  }

  void print_compound(hid_t type, int level, std::size_t depth) {
    out_ += "H5T_COMPOUND {";
    int members = H5Tget_nmembers(type);
    for (int i = 0; i < members; ++i) {
      line(level + 1);
      Handle member(H5Tget_member_type(type, static_cast<unsigned>(i)));
      print_or_unknown(member, level + 1, depth);
      char* member_name = H5Tget_member_name(type, static_cast<unsigned>(i));
      out_ += " \"";
      if (member_name != nullptr) name(member_name);
      out_ += "\";";
      H5free_memory(member_name);
    }
    line(level);
    out_ += "}";
  }

  void print_enum(hid_t type, int level, std::size_t depth) {
    out_ += "H5T_ENUM {";
    line(level + 1);
    Handle base(H5Tget_super(type));
    print_or_unknown(base, level + 1, depth);
    out_ += ";";
    int members = H5Tget_nmembers(type);
    std::size_t size = H5Tget_size(type);
    bool is_signed = base && H5Tget_sign(base.get()) != H5T_SGN_NONE;
    for (int i = 0; i < members; ++i) {
      line(level + 1);
      char* member_name = H5Tget_member_name(type, static_cast<unsigned>(i));
      std::string text = member_name != nullptr ? member_name : "";
      H5free_memory(member_name);
      out_ += "\"";
      name(text);
      out_ += "\"";
      if (compact_) {
        out_ += ' ';
      } else {
        // h5dump aligns the values at column 19 after the quoted name (bytes), at least one
        // space after a longer name.
        out_.append(text.size() < 16 ? 17 - text.size() : 1, ' ');
      }
      out_ += enum_value(type, static_cast<unsigned>(i), size, is_signed, base) + ";";
    }
    line(level);
    out_ += "}";
  }

  // The member's value converted to a native 64-bit integer of the base type's sign.
  static std::string enum_value(hid_t type, unsigned index, std::size_t size, bool is_signed,
                                const Handle& base) {
    std::vector<unsigned char> raw(size > 8 ? size : 8, 0);
    if (H5Tget_member_value(type, index, raw.data()) < 0 || !base) return "?";
    hid_t native = is_signed ? H5T_NATIVE_LLONG : H5T_NATIVE_ULLONG;
    std::vector<unsigned char> buffer(raw.size() > 8 ? raw.size() : 8, 0);
    std::copy(raw.begin(), raw.begin() + static_cast<std::ptrdiff_t>(size), buffer.begin());
    if (H5Tconvert(base.get(), native, 1, buffer.data(), nullptr, H5P_DEFAULT) < 0) return "?";
    if (is_signed) {
      long long v = 0;
      std::copy_n(buffer.data(), sizeof v, reinterpret_cast<unsigned char*>(&v));
      return std::to_string(v);
    }
    unsigned long long v = 0;
    std::copy_n(buffer.data(), sizeof v, reinterpret_cast<unsigned char*>(&v));
    return std::to_string(v);
  }

  void print_array(hid_t type, int level, std::size_t depth) {
    out_ += "H5T_ARRAY { ";
    int rank = H5Tget_array_ndims(type);
    if (rank > 0 && rank <= H5S_MAX_RANK) {
      std::array<hsize_t, H5S_MAX_RANK> dims{};
      H5Tget_array_dims2(type, dims.data());
      for (int i = 0; i < rank; ++i) {
        out_ += '[';
        out_ += std::to_string(dims[static_cast<std::size_t>(i)]);
        out_ += ']';
      }
    }
    out_ += " ";
    Handle base(H5Tget_super(type));
    print_or_unknown(base, level, depth);
    out_ += " }";
  }

  bool compact_;
  std::size_t max_depth_;
  std::string out_;
};

}  // namespace

TypeText describe_type(hid_t type, std::size_t max_depth) {
  TypeText text;
  TypePrinter block(false, max_depth);
  block.print(type, 0, 0);
  text.block = block.take();
  TypePrinter compact(true, max_depth);
  compact.print(type, 0, 0);
  text.compact = compact.take();
  return text;
}

}  // namespace metafs::extract::hdf5
