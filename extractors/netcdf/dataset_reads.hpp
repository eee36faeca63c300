#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>

#include "netcdf/attribute_data.hpp"
#include "netcdf/type_table.hpp"

namespace metafs::extract::nc {

// What fields/ and header.txt both ask the library for, asked once per dataset: the two views
// walk the same dimensions and attributes, netCDF-C normalises a name (utf8proc) on every
// by-name call, and finds the length of an unlimited netCDF-4 dimension by scanning every
// dataset that uses it. Call with the library lock held; throws ExtractError as the calls do.
class DatasetReads {
 public:
  DatasetReads(const TypeTable& types, const Limits& limits) : types_(types), limits_(limits) {}
  DatasetReads(const DatasetReads&) = delete;
  DatasetReads& operator=(const DatasetReads&) = delete;

  struct Dimension {
    std::string name;
    std::size_t length = 0;
  };
  // Name and length of dimension `dimid` (nc_inq_dim). Dimension ids are unique in a file.
  Dimension dimension(int group, int dimid);
  // Just the name (nc_inq_dimname) or just the length (nc_inq_dimlen), each read at most once.
  const std::string& dimension_name(int group, int dimid);
  std::size_t dimension_length(int group, int dimid);

  // The attribute number `index` of `varid` (NC_GLOBAL for the group), its name and values.
  // Values are kept for the second view up to a total of kMaxKeptBytes, then read again.
  std::shared_ptr<const AttributeData> attribute(int group, int varid, int index);

  static constexpr std::size_t kMaxKeptBytes = 64u << 20;

 private:
  struct DimensionEntry {
    std::optional<std::string> name;
    std::optional<std::size_t> length;
  };

  const TypeTable& types_;
  const Limits& limits_;
  std::unordered_map<int, DimensionEntry> dimensions_;
  std::map<std::tuple<int, int, int>, std::shared_ptr<const AttributeData>> attributes_;
  std::size_t kept_bytes_ = 0;
};

}  // namespace metafs::extract::nc
