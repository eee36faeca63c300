#include "netcdf/dataset_reads.hpp"

#include <netcdf.h>

#include <array>
#include <cstring>

#include "netcdf/nc_call.hpp"

namespace metafs::extract::nc {

DatasetReads::Dimension DatasetReads::dimension(int group, int dimid) {
  DimensionEntry& entry = dimensions_[dimid];
  if (!entry.name || !entry.length) {
    std::array<char, NC_MAX_NAME + 1> name{};
    std::size_t length = 0;
    check(nc_inq_dim(group, dimid, name.data(), &length), "reading a dimension");
    entry.name.emplace(name.data(), strnlen(name.data(), NC_MAX_NAME));
    entry.length = length;
  }
  return {*entry.name, *entry.length};
}

const std::string& DatasetReads::dimension_name(int group, int dimid) {
  DimensionEntry& entry = dimensions_[dimid];
  if (!entry.name) entry.name = dim_name(group, dimid);
  return *entry.name;
}

std::size_t DatasetReads::dimension_length(int group, int dimid) {
  DimensionEntry& entry = dimensions_[dimid];
  if (!entry.length) {
    std::size_t length = 0;
    check(nc_inq_dimlen(group, dimid, &length), "reading a dimension");
    entry.length = length;
  }
  return *entry.length;
}

std::shared_ptr<const AttributeData> DatasetReads::attribute(int group, int varid, int index) {
  auto key = std::make_tuple(group, varid, index);
  if (auto it = attributes_.find(key); it != attributes_.end()) return it->second;
  auto att = std::make_shared<const AttributeData>(group, varid, att_name(group, varid, index),
                                                   types_, limits_.max_attribute_bytes);
  std::size_t bytes = att->too_large() ? 0 : (att->length() + 1) * att->value_size();
  if (bytes <= kMaxKeptBytes - kept_bytes_) {
    kept_bytes_ += bytes;
    attributes_.emplace(key, att);
  }
  return att;
}

}  // namespace metafs::extract::nc
