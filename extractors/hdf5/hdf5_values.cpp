#include "hdf5_values.hpp"

#include <array>
#include <charconv>
#include <cstring>
#include <string>
#include <vector>

#include "hdf5_handle.hpp"

namespace metafs::extract::hdf5 {
namespace {

constexpr char kHex[] = "0123456789abcdef";

template <typename T>
std::string shortest(T value) {
  std::array<char, 64> buffer{};
  auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  if (ec != std::errc()) return "?";
  return std::string(buffer.data(), end);
}

template <typename T>
T load(const unsigned char* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

hid_t native_integer(std::size_t size, bool is_signed) {
  switch (size) {
    case 1:
      return is_signed ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8;
    case 2:
      return is_signed ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16;
    case 4:
      return is_signed ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32;
    default:
      return is_signed ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64;
  }
}

// The in-memory type the file type `type` is read as: native numbers, the same strings,
// packed compounds. Invalid when the type cannot be read (too deep, unknown class).
Handle memory_type(hid_t type, std::size_t depth, std::size_t max_depth) {
  if (depth > max_depth) return Handle();
  switch (H5Tget_class(type)) {
    case H5T_INTEGER: {
      std::size_t size = H5Tget_size(type);
      if (size > 8) return Handle();
      std::size_t native = size <= 1 ? 1 : size <= 2 ? 2 : size <= 4 ? 4 : 8;
      return Handle(H5Tcopy(native_integer(native, H5Tget_sign(type) != H5T_SGN_NONE)));
    }
    case H5T_FLOAT: {
      std::size_t size = H5Tget_size(type);
      return Handle(H5Tcopy(size <= 4   ? H5T_NATIVE_FLOAT
                            : size <= 8 ? H5T_NATIVE_DOUBLE
                                        : H5T_NATIVE_LDOUBLE));
    }
    case H5T_BITFIELD: {
      std::size_t size = H5Tget_size(type);
      if (size > 8) return Handle();
      return Handle(H5Tcopy(size <= 1   ? H5T_NATIVE_B8
                            : size <= 2 ? H5T_NATIVE_B16
                            : size <= 4 ? H5T_NATIVE_B32
                                        : H5T_NATIVE_B64));
    }
    case H5T_STRING:
    case H5T_OPAQUE:
      return Handle(H5Tcopy(type));
    case H5T_REFERENCE:
      return Handle(
          H5Tcopy(H5Tequal(type, H5T_STD_REF_DSETREG) > 0 ? H5T_STD_REF_DSETREG : H5T_STD_REF_OBJ));
    case H5T_ENUM:
      return Handle(H5Tget_native_type(type, H5T_DIR_ASCEND));
    case H5T_ARRAY: {
      Handle base(H5Tget_super(type));
      if (!base) return Handle();
      Handle memory_base = memory_type(base.get(), depth + 1, max_depth);
      int rank = H5Tget_array_ndims(type);
      if (!memory_base || rank <= 0 || rank > H5S_MAX_RANK) return Handle();
      std::array<hsize_t, H5S_MAX_RANK> dims{};
      if (H5Tget_array_dims2(type, dims.data()) < 0) return Handle();
      return Handle(H5Tarray_create2(memory_base.get(), static_cast<unsigned>(rank), dims.data()));
    }
    case H5T_VLEN: {
      Handle base(H5Tget_super(type));
      if (!base) return Handle();
      Handle memory_base = memory_type(base.get(), depth + 1, max_depth);
      if (!memory_base) return Handle();
      return Handle(H5Tvlen_create(memory_base.get()));
    }
    case H5T_COMPOUND: {
      int members = H5Tget_nmembers(type);
      if (members <= 0) return Handle();
      std::vector<Handle> types;
      std::vector<std::string> names;
      std::size_t total = 0;
      for (int i = 0; i < members; ++i) {
        Handle member(H5Tget_member_type(type, static_cast<unsigned>(i)));
        if (!member) return Handle();
        Handle memory_member = memory_type(member.get(), depth + 1, max_depth);
        if (!memory_member) return Handle();
        char* name = H5Tget_member_name(type, static_cast<unsigned>(i));
        names.emplace_back(name != nullptr ? name : "");
        H5free_memory(name);
        total += H5Tget_size(memory_member.get());
        types.push_back(std::move(memory_member));
      }
      Handle compound(H5Tcreate(H5T_COMPOUND, total));
      if (!compound) return Handle();
      std::size_t offset = 0;
      for (std::size_t i = 0; i < types.size(); ++i) {
        if (H5Tinsert(compound.get(), names[i].c_str(), offset, types[i].get()) < 0) {
          return Handle();
        }
        offset += H5Tget_size(types[i].get());
      }
      return compound;
    }
    default:
      return Handle();
  }
}

// True when reading `type` makes the library allocate memory (vlen sequences and strings).
bool has_variable_data(hid_t type, std::size_t depth) {
  if (depth > 32) return true;
  switch (H5Tget_class(type)) {
    case H5T_VLEN:
      return true;
    case H5T_STRING:
      return H5Tis_variable_str(type) > 0;
    case H5T_ARRAY: {
      Handle base(H5Tget_super(type));
      return !base || has_variable_data(base.get(), depth + 1);
    }
    case H5T_COMPOUND: {
      int members = H5Tget_nmembers(type);
      for (int i = 0; i < members; ++i) {
        Handle member(H5Tget_member_type(type, static_cast<unsigned>(i)));
        if (!member || has_variable_data(member.get(), depth + 1)) return true;
      }
      return false;
    }
    default:
      return false;
  }
}

// Turns elements laid out as `layout` into Values without calling the library, except to
// name an enum value's member and to follow a region reference.
class Decoder {
 public:
  Decoder(hid_t location, const Limits& limits) : location_(location), limits_(limits) {}

  Value decode(const Layout& layout, const unsigned char* p, std::size_t depth) const {
    Value value;
    // Nested arrays multiply: past the element budget the rest shows as "...".
    if (depth > limits_.max_type_depth || ++decoded_ > limits_.max_elements_per_value) {
      value.text = "...";
      return value;
    }
    switch (layout.cls) {
      case H5T_INTEGER:
        value.kind = Value::Kind::kNumber;
        value.text = layout.is_signed ? std::to_string(load_signed(p, layout.size))
                                      : std::to_string(load_unsigned(p, layout.size));
        break;
      case H5T_BITFIELD:
        value.kind = Value::Kind::kNumber;
        value.text = std::to_string(load_unsigned(p, layout.size));
        break;
      case H5T_FLOAT:
        value.kind = Value::Kind::kNumber;
        if (layout.size == sizeof(float)) {
          value.text = shortest(load<float>(p));
        } else if (layout.size == sizeof(double)) {
          value.text = shortest(load<double>(p));
        } else {
          value.text = shortest(load<long double>(p));
        }
        break;
      case H5T_STRING:
        value.text = decode_string(layout, p);
        break;
      case H5T_OPAQUE:
        for (std::size_t i = 0; i < layout.size && i < limits_.max_string_bytes / 2; ++i) {
          value.text.push_back(kHex[p[i] >> 4]);
          value.text.push_back(kHex[p[i] & 0xf]);
        }
        break;
      case H5T_ENUM: {
        value.text = "(not a member of the enumeration)";
        std::string_view raw(reinterpret_cast<const char*>(p), layout.size);
        for (const auto& [bytes, name] : layout.enum_members) {
          if (bytes == raw) {
            value.text = name;
            break;
          }
        }
        break;
      }
      case H5T_REFERENCE:
        decode_reference(layout, p, value);
        break;
      case H5T_COMPOUND:
        value.kind = Value::Kind::kCompound;
        value.names = layout.names;
        for (std::size_t i = 0; i < layout.members.size(); ++i) {
          value.items.push_back(decode(layout.members[i], p + layout.offsets[i], depth + 1));
        }
        break;
      case H5T_ARRAY:
        value.kind = Value::Kind::kSequence;
        value.total = layout.count;
        if (!layout.members.empty())
          decode_sequence(layout.members[0], p, layout.count, depth, value);
        break;
      case H5T_VLEN: {
        hvl_t vl = load<hvl_t>(p);
        value.kind = Value::Kind::kSequence;
        value.total = vl.len;
        if (!layout.members.empty() && vl.p != nullptr) {
          decode_sequence(layout.members[0], static_cast<const unsigned char*>(vl.p), vl.len, depth,
                          value);
        }
        break;
      }
      default:
        value.text = "(unsupported type)";
        break;
    }
    return value;
  }

 private:
  // Elements [0, count) at p, in full or as a summary.
  void decode_sequence(const Layout& element, const unsigned char* p, std::uint64_t count,
                       std::size_t depth, Value& out) const {
    std::uint64_t shown = count <= limits_.max_full_values ? count : limits_.summary_values;
    for (std::uint64_t i = 0; i < shown; ++i) {
      out.items.push_back(decode(element, p + i * element.size, depth + 1));
    }
  }

  static long long load_signed(const unsigned char* p, std::size_t size) {
    switch (size) {
      case 1:
        return load<std::int8_t>(p);
      case 2:
        return load<std::int16_t>(p);
      case 4:
        return load<std::int32_t>(p);
      default:
        return load<std::int64_t>(p);
    }
  }

  static unsigned long long load_unsigned(const unsigned char* p, std::size_t size) {
    switch (size) {
      case 1:
        return load<std::uint8_t>(p);
      case 2:
        return load<std::uint16_t>(p);
      case 4:
        return load<std::uint32_t>(p);
      default:
        return load<std::uint64_t>(p);
    }
  }

  std::string decode_string(const Layout& layout, const unsigned char* p) const {
    std::string_view text;
    if (layout.variable_string) {
      const char* s = load<const char*>(p);
      if (s == nullptr) return "";
      text = std::string_view(s, strnlen(s, limits_.max_string_bytes + 1));
    } else {
      auto* s = reinterpret_cast<const char*>(p);
      std::size_t length = layout.size;
      switch (layout.pad) {
        case H5T_STR_NULLTERM:
          length = strnlen(s, layout.size);
          break;
        case H5T_STR_SPACEPAD:
          while (length > 0 && (s[length - 1] == ' ' || s[length - 1] == '\0')) --length;
          break;
        default:
          while (length > 0 && s[length - 1] == '\0') --length;
          break;
      }
      text = std::string_view(s, length);
    }
    if (text.size() > limits_.max_string_bytes) {
      return std::string(text.substr(0, limits_.max_string_bytes)) + "... (cut at " +
             std::to_string(limits_.max_string_bytes) + " bytes)";
    }
    return std::string(text);
  }

  void decode_reference(const Layout& layout, const unsigned char* p, Value& value) const {
    value.kind = Value::Kind::kReference;
    if (!layout.region) {
      // In the 1.10 library an object reference is the object header's address.
      value.address = load<hobj_ref_t>(p);
      return;
    }
    value.region = true;
    hdset_reg_ref_t ref;
    std::memcpy(&ref, p, sizeof ref);
    bool null = true;
    for (std::size_t i = 0; i < sizeof ref; ++i) null = null && p[i] == 0;
    if (null || location_ < 0) return;
    Handle object(H5Rdereference2(location_, H5P_DEFAULT, H5R_DATASET_REGION, &ref));
    H5O_info_t info;
    if (object && H5Oget_info2(object.get(), &info, H5O_INFO_BASIC) >= 0) {
      value.address = info.addr;
    }
  }

  hid_t location_;
  const Limits& limits_;
  mutable std::size_t decoded_ = 0;
};

// The layout of the memory type `type`, read from the library once.
Layout describe_layout(hid_t type, std::size_t depth) {
  Layout layout;
  layout.cls = H5Tget_class(type);
  layout.size = H5Tget_size(type);
  if (depth > 32) return layout;
  switch (layout.cls) {
    case H5T_INTEGER:
      layout.is_signed = H5Tget_sign(type) != H5T_SGN_NONE;
      break;
    case H5T_STRING:
      layout.variable_string = H5Tis_variable_str(type) > 0;
      layout.pad = H5Tget_strpad(type);
      break;
    case H5T_REFERENCE:
      layout.region = H5Tequal(type, H5T_STD_REF_DSETREG) > 0;
      break;
    case H5T_ENUM: {
      int members = H5Tget_nmembers(type);
      for (int i = 0; i < members; ++i) {
        auto index = static_cast<unsigned>(i);
        std::string raw(layout.size, '\0');
        char* name = H5Tget_member_name(type, index);
        if (name != nullptr && H5Tget_member_value(type, index, raw.data()) >= 0) {
          layout.enum_members.emplace_back(std::move(raw), name);
        }
        H5free_memory(name);
      }
      break;
    }
    case H5T_COMPOUND: {
      int members = H5Tget_nmembers(type);
      for (int i = 0; i < members; ++i) {
        auto index = static_cast<unsigned>(i);
        Handle member(H5Tget_member_type(type, index));
        char* name = H5Tget_member_name(type, index);
        if (!member) {
          H5free_memory(name);
          continue;
        }
        layout.names.emplace_back(name != nullptr ? name : "");
        H5free_memory(name);
        layout.offsets.push_back(H5Tget_member_offset(type, index));
        layout.members.push_back(describe_layout(member.get(), depth + 1));
      }
      break;
    }
    case H5T_ARRAY:
    case H5T_VLEN: {
      Handle base(H5Tget_super(type));
      if (!base) break;
      layout.members.push_back(describe_layout(base.get(), depth + 1));
      std::size_t element = layout.members[0].size;
      layout.count = layout.cls == H5T_ARRAY && element != 0 ? layout.size / element : 0;
      break;
    }
    default:
      break;
  }
  return layout;
}

std::size_t value_bytes(const Value& value) {
  std::size_t bytes = sizeof(Value) + value.text.size();
  for (const auto& name : value.names) bytes += sizeof name + name.size();
  for (const auto& item : value.items) bytes += value_bytes(item);
  return bytes;
}

// False for a file type whose parts do not fit in it (a damaged datatype message): the
// library would convert past the end of its buffers.
bool fits_together(hid_t type, std::size_t depth) {
  if (depth > 32) return false;
  std::size_t size = H5Tget_size(type);
  if (size == 0) return false;
  switch (H5Tget_class(type)) {
    case H5T_COMPOUND: {
      int members = H5Tget_nmembers(type);
      if (members < 0) return false;
      for (int i = 0; i < members; ++i) {
        auto index = static_cast<unsigned>(i);
        Handle member(H5Tget_member_type(type, index));
        if (!member) return false;
        std::size_t offset = H5Tget_member_offset(type, index);
        std::size_t member_size = H5Tget_size(member.get());
        if (offset > size || member_size > size - offset) return false;
        if (!fits_together(member.get(), depth + 1)) return false;
      }
      return true;
    }
    case H5T_ARRAY: {
      Handle base(H5Tget_super(type));
      int rank = H5Tget_array_ndims(type);
      if (!base || rank <= 0 || rank > H5S_MAX_RANK) return false;
      std::array<hsize_t, H5S_MAX_RANK> dims{};
      if (H5Tget_array_dims2(type, dims.data()) < 0) return false;
      std::size_t count = 1;
      for (int i = 0; i < rank; ++i) {
        auto dim = dims[static_cast<std::size_t>(i)];
        if (dim != 0 && count > SIZE_MAX / dim) return false;
        count *= dim;
      }
      std::size_t base_size = H5Tget_size(base.get());
      if (base_size == 0 || count > SIZE_MAX / base_size || count * base_size != size) {
        return false;
      }
      return fits_together(base.get(), depth + 1);
    }
    case H5T_VLEN:
    case H5T_ENUM: {
      Handle base(H5Tget_super(type));
      return base && fits_together(base.get(), depth + 1);
    }
    case H5T_INTEGER:
    case H5T_FLOAT:
    case H5T_BITFIELD: {
      // Precision and offset describe bits inside the element.
      std::size_t precision = H5Tget_precision(type);
      int offset = H5Tget_offset(type);
      return precision > 0 && offset >= 0 &&
             static_cast<std::size_t>(offset) + precision <= size * 8;
    }
    default:
      return true;
  }
}

}  // namespace

std::unique_ptr<MemoryType> make_memory_type(hid_t file_type, const Limits& limits, bool* damaged) {
  bool fits = fits_together(file_type, 0);
  if (damaged != nullptr) *damaged = !fits;
  if (!fits) return nullptr;
  Handle memory = memory_type(file_type, 0, limits.max_type_depth);
  if (!memory) return nullptr;
  auto out = std::make_unique<MemoryType>();
  out->layout = describe_layout(memory.get(), 0);
  out->variable_data = has_variable_data(memory.get(), 0);
  out->type = std::move(memory);
  return out;
}

Data read_attribute_data(hid_t attr, const MemoryType* memory, hid_t space, const Limits& limits) {
  Data data;
  hssize_t points = H5Sget_simple_extent_npoints(space);
  if (H5Sget_simple_extent_type(space) == H5S_NULL || points <= 0) return data;
  data.count = static_cast<std::uint64_t>(points);
  if (memory == nullptr) {
    data.problem = "not read: unsupported datatype";
    return data;
  }
  std::size_t element = memory->layout.size;
  if (element == 0 || data.count > limits.max_value_bytes / element) {
    data.problem = "not read: " + std::to_string(data.count) + " values";
    return data;
  }
  std::vector<unsigned char> buffer(data.count * element);
  if (H5Aread(attr, memory->type.get(), buffer.data()) < 0) {
    data.problem = "not read: the library could not read it";
    data.failed = true;
    return data;
  }
  Decoder decoder(attr, limits);
  std::uint64_t shown = data.count <= limits.max_full_values ? data.count : limits.summary_values;
  data.values.reserve(shown);
  for (std::uint64_t i = 0; i < shown; ++i) {
    data.values.push_back(decoder.decode(memory->layout, buffer.data() + i * element, 0));
  }
  if (memory->variable_data) {
    H5Dvlen_reclaim(memory->type.get(), space, H5P_DEFAULT, buffer.data());
  }
  return data;
}

std::size_t data_bytes(const Data& data) {
  std::size_t bytes = sizeof data + data.problem.size();
  for (const auto& value : data.values) bytes += value_bytes(value);
  return bytes;
}

std::optional<Data> read_fill_value(hid_t dcpl, bool user_defined, const MemoryType* memory,
                                    const Limits& limits) {
  // Variable-length fill values would be allocated by the library; references need a file.
  if (memory == nullptr || memory->variable_data ||
      H5Tdetect_class(memory->type.get(), H5T_REFERENCE) > 0) {
    return std::nullopt;
  }
  std::size_t element = memory->layout.size;
  if (element == 0 || element > limits.max_value_bytes) return std::nullopt;
  // The library's default fill value is all zero bytes: no need to ask it (and to trust a
  // damaged fill value message).
  std::vector<unsigned char> buffer(element, 0);
  if (user_defined && H5Pget_fill_value(dcpl, memory->type.get(), buffer.data()) < 0) {
    return std::nullopt;
  }
  Data data;
  data.count = 1;
  data.values.push_back(Decoder(H5I_INVALID_HID, limits).decode(memory->layout, buffer.data(), 0));
  return data;
}

}  // namespace metafs::extract::hdf5
