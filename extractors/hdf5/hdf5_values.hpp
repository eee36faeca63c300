#pragma once

#include <hdf5.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hdf5_handle.hpp"
#include "hdf5_model.hpp"

namespace metafs::extract::hdf5 {

// The in-memory layout of a type, read from the library once so that decoding each element
// needs no library calls.
struct Layout {
  H5T_class_t cls = H5T_NO_CLASS;
  std::size_t size = 0;
  bool is_signed = false;        // integers
  bool variable_string = false;  // strings
  H5T_str_t pad = H5T_STR_NULLTERM;
  bool region = false;                                            // references
  std::vector<std::pair<std::string, std::string>> enum_members;  // native value bytes, name
  std::vector<std::string> names;                                 // compound members
  std::vector<std::size_t> offsets;                               // compound members
  std::vector<Layout> members;  // compound members; the element of an array or vlen
  std::uint64_t count = 0;      // array elements
};

// What a file type is read as: native numbers, the same strings, packed compounds.
struct MemoryType {
  Handle type;
  Layout layout;
  bool variable_data = false;  // reading allocates (vlen sequences or strings)
};

// Null when the type cannot be read (unknown class, too deep, integers wider than 64 bits,
// parts that do not fit in the type: a damaged datatype).
// Precondition: the caller holds hdf5_library_mutex(), also when the result is destroyed.
// *damaged (when given) tells the last case apart.
std::unique_ptr<MemoryType> make_memory_type(hid_t file_type, const Limits& limits,
                                             bool* damaged = nullptr);

// Reads the elements of the attribute `attr`, at most limits.max_full_values in full or
// limits.summary_values of a bigger array. Never throws for file problems; what cannot be read
// is said in Data::problem.
Data read_attribute_data(hid_t attr, const MemoryType* memory, hid_t space, const Limits& limits);

// Approximate heap bytes held by `data`, for the file's value budget.
std::size_t data_bytes(const Data& data);

// The fill value of a dataset with creation properties `dcpl` (zero unless `user_defined`);
// absent for types whose fill value the library would have to allocate (variable-length) and
// for references.
std::optional<Data> read_fill_value(hid_t dcpl, bool user_defined, const MemoryType* memory,
                                    const Limits& limits);

}  // namespace metafs::extract::hdf5
