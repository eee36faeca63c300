#include "netcdf/attribute_data.hpp"

#include "extraction.hpp"

namespace metafs::extract::nc {

AttributeData::AttributeData(int ncid, int varid, std::string name, const TypeTable& types,
                             std::size_t max_bytes)
    : ncid_(ncid), name_(std::move(name)) {
  check(nc_inq_att(ncid, varid, name_.c_str(), &type_, &length_),
        "reading attribute '" + name_ + "'");
  const TypeInfo& info = types.at(type_);
  value_size_ = info.size == 0 ? 1 : info.size;
  if (length_ > max_bytes / value_size_) {
    too_large_ = true;
    return;
  }
  // One spare value: text gets its terminating NUL, and a zero-length read has a buffer.
  bytes_.assign((length_ + 1) * value_size_, 0);
  if (length_ == 0) return;
  check(nc_get_att(ncid, varid, name_.c_str(), bytes_.data()), "reading attribute '" + name_ + "'");
  needs_reclaim_ =
      type_ == NC_STRING || info.type_class == NC_VLEN || info.type_class == NC_COMPOUND;
}

AttributeData::~AttributeData() {
  if (needs_reclaim_) nc_reclaim_data(ncid_, type_, bytes_.data(), length_);
}

}  // namespace metafs::extract::nc
