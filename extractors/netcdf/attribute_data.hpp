#pragma once

#include <netcdf.h>

#include <cstddef>
#include <string>
#include <vector>

#include "netcdf/type_table.hpp"

namespace metafs::extract::nc {

// One attribute's values in memory, read with nc_get_att. Releases strings and vlens the
// library allocated when destroyed. Call with the library lock held.
class AttributeData {
 public:
  // Reads the attribute `name` of `varid` (NC_GLOBAL for the group). Values larger than
  // `max_bytes` are not read: too_large() is then true and data() is empty.
  // Throws ExtractError when the library cannot read them.
  AttributeData(int ncid, int varid, std::string name, const TypeTable& types,
                std::size_t max_bytes);
  ~AttributeData();
  AttributeData(const AttributeData&) = delete;
  AttributeData& operator=(const AttributeData&) = delete;

  const std::string& name() const { return name_; }
  nc_type type() const { return type_; }
  std::size_t length() const { return length_; }
  std::size_t value_size() const { return value_size_; }
  bool too_large() const { return too_large_; }
  // The i-th value (i < length()); NC_CHAR data is the text, NUL-terminated.
  const unsigned char* value(std::size_t i) const { return bytes_.data() + i * value_size_; }
  const char* text() const { return reinterpret_cast<const char*>(bytes_.data()); }

 private:
  int ncid_;
  std::string name_;
  nc_type type_ = NC_NAT;
  std::size_t length_ = 0;
  std::size_t value_size_ = 1;
  bool too_large_ = false;
  bool needs_reclaim_ = false;
  std::vector<unsigned char> bytes_;
};

}  // namespace metafs::extract::nc
