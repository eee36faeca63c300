#pragma once

#include <string>
#include <string_view>

#include "netcdf/dataset_reads.hpp"
#include "netcdf/nc_call.hpp"
#include "netcdf/type_table.hpp"

namespace metafs::extract::nc {

// The name ncdump gives a dataset: the last path component without its last extension.
std::string dataset_name(std::string_view path);

// The header of the open dataset `root` byte for byte as `ncdump -h` (netCDF-C 4.9) prints
// it. Past a cap of `limits` the text says so in a CDL comment. Call with the library lock
// held; throws ExtractError when the library fails. Reuses what `reads` holds already.
std::string cdl_header(int root, std::string_view name, const TypeTable& types,
                       const Limits& limits, DatasetReads& reads);

}  // namespace metafs::extract::nc
