#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace metafs::extract::nc {

// Throws ExtractError("<what>: <netCDF's message>") unless `status` is NC_NOERR.
void check(int status, std::string_view what);

// Caps on what one file may cost; a file past a cap is described up to the cap, with a note.
struct Limits {
  int max_group_depth = 64;
  std::size_t max_groups = 10000;
  std::size_t max_dims_per_group = 100000;
  std::size_t max_vars_per_group = 100000;
  std::size_t max_atts_per_object = 100000;
  std::size_t max_types = 100000;
  std::size_t max_attribute_bytes = 16u << 20;  // one attribute's values in memory
};

// A name as the library returns it (at most NC_MAX_NAME bytes).
std::string att_name(int ncid, int varid, int index);
std::string var_name(int ncid, int varid);
std::string dim_name(int ncid, int dimid);
std::string group_name(int ncid);
std::string group_full_name(int ncid);

// The dimensions defined in group `ncid` (not its parents), and the unlimited ones among
// those visible there; no unlimited ones are asked for when it defines none.
struct GroupDimensions {
  std::vector<int> ids;
  std::vector<int> unlimited;
};
GroupDimensions group_dimensions(int ncid);

// The ids of the direct subgroups of `ncid` (empty for netCDF-3 files).
std::vector<int> subgroups(int ncid);

}  // namespace metafs::extract::nc
