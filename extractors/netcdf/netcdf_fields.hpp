#pragma once

#include "meta_tree.hpp"
#include "netcdf/dataset_reads.hpp"
#include "netcdf/nc_call.hpp"
#include "netcdf/type_table.hpp"

namespace metafs::extract::nc {

// The format variant as `ncdump -k` names it: "classic", "64-bit offset", "cdf5",
// "netCDF-4" or "netCDF-4 classic model".
std::string format_variant(int format);

// Fills `tree` with the metadata of the open dataset `root` (see README.md for the layout).
// Call with the library lock held; throws ExtractError when the library fails, keeping what
// was added so far. What it reads stays in `reads` for the header.
void add_fields(int root, MetaTree& tree, const TypeTable& types, const Limits& limits,
                DatasetReads& reads);

}  // namespace metafs::extract::nc
