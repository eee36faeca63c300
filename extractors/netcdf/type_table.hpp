#pragma once

#include <netcdf.h>

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "netcdf/nc_call.hpp"

namespace metafs::extract::nc {

struct CompoundField {
  std::string name;
  std::size_t offset = 0;
  nc_type type = NC_NAT;
  std::vector<int> dims;  // empty for a scalar member
  std::size_t count = 1;  // product of dims
};

struct TypeInfo {
  nc_type id = NC_NAT;
  std::string name;
  int type_class = 0;         // 0 for atomic types, else NC_VLEN, NC_OPAQUE, NC_ENUM, NC_COMPOUND
  std::size_t size = 0;       // bytes of one value in memory (a vlen is an nc_vlen_t)
  std::size_t file_size = 0;  // the library's size (opaque bytes, vlen base size, ...)
  nc_type base = NC_NAT;      // enum and vlen base type
  std::size_t member_count = 0;
  int group = 0;           // ncid of the group defining the type
  std::string group_path;  // its full name, "/" for the root
  std::vector<CompoundField> fields;
};

// Every type of a file: the atomic ones and the user-defined ones of every group.
// Call with the library lock held.
class TypeTable {
 public:
  // Reads the user-defined types of `root` and all its subgroups (up to limits.max_types;
  // a type beyond that is unknown and its users fail with a clear error).
  TypeTable(int root, const Limits& limits);

  // Throws ExtractError for an id the table does not know.
  const TypeInfo& at(nc_type id) const;
  bool is_user_defined(nc_type id) const { return at(id).type_class != 0; }
  bool truncated() const { return truncated_; }

  // One value of type `id` at `value` in CDL data syntax, as ncdump prints the values of
  // compound and vlen attributes ("{1, {2.5, 3}}"), enum values as their member name.
  void append_value(std::string& out, nc_type id, const unsigned char* value) const;

 private:
  void load_group(int ncid, const Limits& limits, int depth);
  void append_value(std::string& out, nc_type id, const unsigned char* value, int depth) const;

  std::unordered_map<nc_type, TypeInfo> types_;
  bool truncated_ = false;
};

// The enum member named for `value`, or "" when there is none.
std::string enum_member_name(int group, nc_type enum_type, long long value);

// An enum value of base type `base` at `p`, widened as ncdump does.
long long enum_value(nc_type base, const unsigned char* p);

}  // namespace metafs::extract::nc
