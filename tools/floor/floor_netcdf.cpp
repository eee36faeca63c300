// netCDF floor: what metafs needs from netCDF-C and no more. Open the file, and in every
// group ask once for each dimension (name, length), each user type, each variable (name,
// type, dimensions) and each attribute (name, type, length, value), then close it.
#include <netcdf.h>

#include <vector>

#include "floor_common.hpp"

namespace {

std::size_t g_sink = 0;

bool read_attributes(int group, int variable, int count) {
  char name[NC_MAX_NAME + 1];
  std::vector<char> value;
  for (int a = 0; a < count; ++a) {
    nc_type type = 0;
    size_t length = 0;
    if (nc_inq_attname(group, variable, a, name) != NC_NOERR ||
        nc_inq_att(group, variable, name, &type, &length) != NC_NOERR) {
      return false;
    }
    size_t size = 0;
    if (type == NC_STRING || type > NC_MAX_ATOMIC_TYPE) {
      if (type == NC_STRING) {
        std::vector<char*> strings(length);
        if (nc_get_att_string(group, variable, name, strings.data()) == NC_NOERR) {
          nc_free_string(length, strings.data());
        }
      }
      continue;  // user-defined types: sizes vary; metafs reads them, the floor skips them
    }
    nc_inq_type(group, type, nullptr, &size);
    value.resize(size * length + 1);
    if (nc_get_att(group, variable, name, value.data()) != NC_NOERR) return false;
    g_sink += value.size();
  }
  return true;
}

bool read_group(int group) {
  int dims = 0, vars = 0, atts = 0, unlimited = 0;
  if (nc_inq(group, &dims, &vars, &atts, &unlimited) != NC_NOERR) return false;
  char name[NC_MAX_NAME + 1];
  std::vector<int> dim_ids(static_cast<std::size_t>(dims));
  if (dims > 0 && nc_inq_dimids(group, &dims, dim_ids.data(), 0) != NC_NOERR) return false;
  for (int id : dim_ids) {
    size_t length = 0;
    if (nc_inq_dim(group, id, name, &length) != NC_NOERR) return false;
    g_sink += length;
  }
  int types = 0;
  nc_inq_typeids(group, &types, nullptr);
  std::vector<int> type_ids(static_cast<std::size_t>(types));
  if (types > 0) nc_inq_typeids(group, &types, type_ids.data());
  for (int id : type_ids) {
    size_t size = 0;
    nc_inq_user_type(group, id, name, &size, nullptr, nullptr, nullptr);
  }
  if (!read_attributes(group, NC_GLOBAL, atts)) return false;
  for (int v = 0; v < vars; ++v) {
    nc_type type = 0;
    int ndims = 0, natts = 0;
    int var_dims[NC_MAX_VAR_DIMS];
    if (nc_inq_var(group, v, name, &type, &ndims, var_dims, &natts) != NC_NOERR) return false;
    if (!read_attributes(group, v, natts)) return false;
  }
  int groups = 0;
  nc_inq_grps(group, &groups, nullptr);
  std::vector<int> group_ids(static_cast<std::size_t>(groups));
  if (groups > 0) nc_inq_grps(group, &groups, group_ids.data());
  for (int child : group_ids) {
    if (!read_group(child)) return false;
  }
  return true;
}

bool read_file(const std::string& path) {
  int id = 0;
  if (nc_open(path.c_str(), NC_NOWRITE, &id) != NC_NOERR) return false;
  bool ok = read_group(id);
  nc_close(id);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  int status = metafs::floor::run("floor_netcdf", argc, argv, read_file);
  return g_sink == 42 ? 3 : status;
}
