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

// Turns elements of a memory type into Values.
class Decoder {
 public:
  Decoder(hid_t location, const Limits& limits) : location_(location), limits_(limits) {}

  Value decode(hid_t type, const unsigned char* p, std::size_t depth) const {
    Value value;
    // Nested arrays multiply: past the element budget the rest shows as "...".
    if (depth > limits_.max_type_depth || ++decoded_ > limits_.max_elements_per_value) {
      value.text = "...";
      return value;
    }
    std::size_t size = H5Tget_size(type);
    switch (H5Tget_class(type)) {
      case H5T_INTEGER: {
        value.kind = Value::Kind::kNumber;
        bool is_signed = H5Tget_sign(type) != H5T_SGN_NONE;
        value.text = is_signed ? std::to_string(load_signed(p, size))
                               : std::to_string(load_unsigned(p, size));
        break;
      }
      case H5T_BITFIELD:
        value.kind = Value::Kind::kNumber;
        value.text = std::to_string(load_unsigned(p, size));
        break;
      case H5T_FLOAT:
        value.kind = Value::Kind::kNumber;
        if (size == sizeof(float)) {
          value.text = shortest(load<float>(p));
        } else if (size == sizeof(double)) {
          value.text = shortest(load<double>(p));
        } else {
          value.text = shortest(load<long double>(p));
        }
        break;
      case H5T_STRING:
        value.text = decode_string(type, p, size);
        break;
      case H5T_OPAQUE:
        for (std::size_t i = 0; i < size && i < limits_.max_string_bytes / 2; ++i) {
          value.text.push_back(kHex[p[i] >> 4]);
          value.text.push_back(kHex[p[i] & 0xf]);
        }
        break;
      case H5T_ENUM: {
        std::array<char, 256> name{};
        if (H5Tenum_nameof(type, p, name.data(), name.size()) >= 0) {
          value.text = name.data();
        } else {
          value.text = "(not a member of the enumeration)";
        }
        break;
      }
      case H5T_REFERENCE:
        decode_reference(type, p, value);
        break;
      case H5T_COMPOUND:
        decode_compound(type, p, depth, value);
        break;
      case H5T_ARRAY:
        decode_array(type, p, depth, value);
        break;
      case H5T_VLEN: {
        hvl_t vl = load<hvl_t>(p);
        Handle base(H5Tget_super(type));
        value.kind = Value::Kind::kSequence;
        value.total = vl.len;
        if (base && vl.p != nullptr) {
          decode_sequence(base.get(), static_cast<const unsigned char*>(vl.p), vl.len, depth,
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

  // Elements [0, count) of `type` at p, in full or as a summary.
  void decode_sequence(hid_t type, const unsigned char* p, std::uint64_t count, std::size_t depth,
                       Value& out) const {
    std::size_t size = H5Tget_size(type);
    std::uint64_t shown = count <= limits_.max_full_values ? count : limits_.summary_values;
    for (std::uint64_t i = 0; i < shown; ++i) {
      out.items.push_back(decode(type, p + i * size, depth + 1));
    }
  }

 private:
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

  std::string decode_string(hid_t type, const unsigned char* p, std::size_t size) const {
    std::string_view text;
    if (H5Tis_variable_str(type) > 0) {
      const char* s = load<const char*>(p);
      if (s == nullptr) return "";
      text = std::string_view(s, strnlen(s, limits_.max_string_bytes + 1));
    } else {
      auto* s = reinterpret_cast<const char*>(p);
      std::size_t length = size;
      switch (H5Tget_strpad(type)) {
        case H5T_STR_NULLTERM:
          length = strnlen(s, size);
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

  void decode_reference(hid_t type, const unsigned char* p, Value& value) const {
    value.kind = Value::Kind::kReference;
    if (H5Tequal(type, H5T_STD_REF_OBJ) > 0) {
      // In the 1.10 library an object reference is the object header's address.
      value.address = load<hobj_ref_t>(p);
      return;
    }
    value.region = true;
    hdset_reg_ref_t ref;
    std::memcpy(&ref, p, sizeof ref);
    bool null = true;
    for (std::size_t i = 0; i < sizeof ref; ++i) null = null && p[i] == 0;
    if (null) return;
    Handle object(H5Rdereference2(location_, H5P_DEFAULT, H5R_DATASET_REGION, &ref));
    H5O_info_t info;
    if (object && H5Oget_info2(object.get(), &info, H5O_INFO_BASIC) >= 0) {
      value.address = info.addr;
    }
  }

  void decode_compound(hid_t type, const unsigned char* p, std::size_t depth, Value& value) const {
    value.kind = Value::Kind::kCompound;
    int members = H5Tget_nmembers(type);
    for (int i = 0; i < members; ++i) {
      auto index = static_cast<unsigned>(i);
      Handle member(H5Tget_member_type(type, index));
      char* name = H5Tget_member_name(type, index);
      value.names.emplace_back(name != nullptr ? name : "");
      H5free_memory(name);
      if (!member) {
        value.items.emplace_back();
        continue;
      }
      value.items.push_back(decode(member.get(), p + H5Tget_member_offset(type, index), depth + 1));
    }
  }

  void decode_array(hid_t type, const unsigned char* p, std::size_t depth, Value& value) const {
    value.kind = Value::Kind::kSequence;
    Handle base(H5Tget_super(type));
    std::size_t base_size = base ? H5Tget_size(base.get()) : 0;
    value.total = base_size == 0 ? 0 : H5Tget_size(type) / base_size;
    if (base) decode_sequence(base.get(), p, value.total, depth, value);
  }

  hid_t location_;
  const Limits& limits_;
  mutable std::size_t decoded_ = 0;
};

std::size_t value_bytes(const Value& value) {
  std::size_t bytes = sizeof(Value) + value.text.size();
  for (const auto& name : value.names) bytes += sizeof name + name.size();
  for (const auto& item : value.items) bytes += value_bytes(item);
  return bytes;
}

}  // namespace

Data read_attribute_data(hid_t attr, hid_t file_type, hid_t space, const Limits& limits) {
  Data data;
  hssize_t points = H5Sget_simple_extent_npoints(space);
  if (H5Sget_simple_extent_type(space) == H5S_NULL || points <= 0) return data;
  data.count = static_cast<std::uint64_t>(points);
  Handle memory = memory_type(file_type, 0, limits.max_type_depth);
  if (!memory) {
    data.problem = "not read: unsupported datatype";
    return data;
  }
  std::size_t element = H5Tget_size(memory.get());
  if (element == 0 || data.count > limits.max_value_bytes / element) {
    data.problem = "not read: " + std::to_string(data.count) + " values";
    return data;
  }
  std::vector<unsigned char> buffer(data.count * element);
  if (H5Aread(attr, memory.get(), buffer.data()) < 0) {
    data.problem = "not read: the library could not read it";
    return data;
  }
  Decoder decoder(attr, limits);
  std::uint64_t shown = data.count <= limits.max_full_values ? data.count : limits.summary_values;
  data.values.reserve(shown);
  for (std::uint64_t i = 0; i < shown; ++i) {
    data.values.push_back(decoder.decode(memory.get(), buffer.data() + i * element, 0));
  }
  if (has_variable_data(memory.get(), 0)) {
    H5Dvlen_reclaim(memory.get(), space, H5P_DEFAULT, buffer.data());
  }
  return data;
}

std::size_t data_bytes(const Data& data) {
  std::size_t bytes = sizeof data + data.problem.size();
  for (const auto& value : data.values) bytes += value_bytes(value);
  return bytes;
}

std::optional<Data> read_fill_value(hid_t dcpl, hid_t file_type, const Limits& limits) {
  if (has_variable_data(file_type, 0) || H5Tdetect_class(file_type, H5T_REFERENCE) > 0) {
    return std::nullopt;
  }
  Handle memory = memory_type(file_type, 0, limits.max_type_depth);
  if (!memory) return std::nullopt;
  std::size_t element = H5Tget_size(memory.get());
  if (element == 0 || element > limits.max_value_bytes) return std::nullopt;
  std::vector<unsigned char> buffer(element);
  if (H5Pget_fill_value(dcpl, memory.get(), buffer.data()) < 0) return std::nullopt;
  Data data;
  data.count = 1;
  data.values.push_back(Decoder(H5I_INVALID_HID, limits).decode(memory.get(), buffer.data(), 0));
  return data;
}

}  // namespace metafs::extract::hdf5
