#pragma once

#include <string_view>

#include "meta_tree.hpp"
#include "netcdf/attribute_data.hpp"
#include "netcdf/type_table.hpp"

namespace metafs::extract::nc {

// Adds attribute `att` as the value `name` under `parent`, the way a user greps for it:
// text as is (trailing NULs dropped), numbers in their shortest exact decimal form and
// marked as numbers, several numbers as a list shown "1, 2, 3", several strings one per
// line, enum values by member name, opaque values in hex, compound and vlen values in CDL.
void add_attribute_value(MetaTree& tree, NodeId parent, std::string_view name,
                         const AttributeData& att, const TypeTable& types);

}  // namespace metafs::extract::nc
