#include "netcdf/nc_call.hpp"

#include <netcdf.h>

#include <algorithm>
#include <array>

#include "extraction.hpp"

namespace metafs::extract::nc {

void check(int status, std::string_view what) {
  if (status == NC_NOERR) return;
  throw ExtractError(std::string(what) + ": " + nc_strerror(status));
}

namespace {

using NameBuffer = std::array<char, NC_MAX_NAME + 1>;

std::string from_buffer(const NameBuffer& buffer) {
  std::size_t n = 0;
  while (n < NC_MAX_NAME && buffer[n] != '\0') ++n;
  return std::string(buffer.data(), n);
}

}  // namespace

std::string att_name(int ncid, int varid, int index) {
  NameBuffer buffer{};
  check(nc_inq_attname(ncid, varid, index, buffer.data()), "reading an attribute name");
  return from_buffer(buffer);
}

std::string var_name(int ncid, int varid) {
  NameBuffer buffer{};
  check(nc_inq_varname(ncid, varid, buffer.data()), "reading a variable name");
  return from_buffer(buffer);
}

std::string dim_name(int ncid, int dimid) {
  NameBuffer buffer{};
  check(nc_inq_dimname(ncid, dimid, buffer.data()), "reading a dimension name");
  return from_buffer(buffer);
}

std::string group_name(int ncid) {
  NameBuffer buffer{};
  check(nc_inq_grpname(ncid, buffer.data()), "reading a group name");
  return from_buffer(buffer);
}

std::string group_full_name(int ncid) {
  std::size_t len = 0;
  check(nc_inq_grpname_full(ncid, &len, nullptr), "reading a group path");
  std::string name(len, '\0');
  check(nc_inq_grpname_full(ncid, &len, name.data()), "reading a group path");
  name.resize(len);
  return name;
}

GroupDimensions group_dimensions(int ncid) {
  GroupDimensions dims;
  int count = 0;
  check(nc_inq_ndims(ncid, &count), "counting dimensions");
  if (count <= 0) return dims;
  dims.ids.resize(static_cast<std::size_t>(count));
  check(nc_inq_dimids(ncid, &count, dims.ids.data(), 0), "listing dimensions");
  int nunlim = 0;
  check(nc_inq_unlimdims(ncid, &nunlim, nullptr), "listing unlimited dimensions");
  dims.unlimited.resize(static_cast<std::size_t>(std::max(nunlim, 0)));
  if (nunlim > 0)
    check(nc_inq_unlimdims(ncid, &nunlim, dims.unlimited.data()), "listing unlimited dimensions");
  return dims;
}

std::vector<int> subgroups(int ncid) {
  int count = 0;
  check(nc_inq_grps(ncid, &count, nullptr), "listing groups");
  std::vector<int> ids(static_cast<std::size_t>(count > 0 ? count : 0));
  if (!ids.empty()) check(nc_inq_grps(ncid, nullptr, ids.data()), "listing groups");
  return ids;
}

}  // namespace metafs::extract::nc
