#pragma once

#include "hdf5_model.hpp"
#include "meta_tree.hpp"

namespace metafs::extract::hdf5 {

// Reserved names: every property of an object is "%" followed by a lowercase word. Escaped
// HDF5 names never look like this, since escape_name writes '%' only before two digits or
// capital letters A-F.
namespace field {
inline constexpr Verbatim kKind{"%kind"};
inline constexpr Verbatim kAttributes{"%attributes"};
inline constexpr Verbatim kNote{"%note"};
inline constexpr Verbatim kDtype{"%dtype"};
inline constexpr Verbatim kNamedDtype{"%named_dtype"};
inline constexpr Verbatim kComment{"%comment"};
inline constexpr Verbatim kDataspace{"%dataspace"};
inline constexpr Verbatim kShape{"%shape"};
inline constexpr Verbatim kMaxShape{"%maxshape"};
inline constexpr Verbatim kLayout{"%layout"};
inline constexpr Verbatim kChunks{"%chunks"};
inline constexpr Verbatim kFilters{"%filters"};
inline constexpr Verbatim kFillValue{"%fill_value"};
inline constexpr Verbatim kStorageSize{"%storage_size"};
inline constexpr Verbatim kExternal{"%external"};
inline constexpr Verbatim kTarget{"%target"};
inline constexpr Verbatim kFile{"%file"};
inline constexpr Verbatim kLinkClass{"%link_class"};
inline constexpr Verbatim kSuperblockVersion{"%superblock_version"};
inline constexpr Verbatim kUserblockSize{"%userblock_size"};
}  // namespace field

// Adds `model` to `tree` below its root: one directory per object, properties in reserved
// names, attributes in %attributes/, further links to an object as symbolic links.
void build_fields(const FileModel& model, const Limits& limits, MetaTree& tree);

}  // namespace metafs::extract::hdf5
