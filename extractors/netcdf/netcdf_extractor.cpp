#include "netcdf/netcdf_extractor.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <netcdf.h>
#include <unistd.h>

#include <mutex>

#include "library_lock.hpp"
#include "netcdf/cdl_header.hpp"
#include "netcdf/classic_header_check.hpp"
#include "netcdf/nc_call.hpp"
#include "netcdf/netcdf_fields.hpp"
#include "netcdf/type_table.hpp"

namespace metafs::extract {
namespace {

// Rejects classic files whose header would crash the library, before it sees them.
void refuse_corrupt_classic_header(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ExtractError("cannot open the file");
  std::string reason = nc::check_classic_header(fd);
  ::close(fd);
  if (!reason.empty()) throw ExtractError(reason);
}

// netCDF-C turns HDF5's error printing off only in the thread that first uses it; HDF5
// keeps that setting per thread, so every other thread would print the stacks of errors
// netCDF-C expects (missing optional attributes) to stderr.
void silence_hdf5_errors() {
  thread_local bool silenced = false;
  if (!silenced) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    silenced = true;
  }
}

// An open dataset, closed on every path out. Use with the library lock held.
class OpenDataset {
 public:
  explicit OpenDataset(const std::filesystem::path& path) {
    nc::check(nc_open(path.c_str(), NC_NOWRITE, &ncid_), "cannot open as netCDF");
  }
  ~OpenDataset() { nc_close(ncid_); }
  OpenDataset(const OpenDataset&) = delete;
  OpenDataset& operator=(const OpenDataset&) = delete;

  int id() const { return ncid_; }

 private:
  int ncid_ = -1;
};

class NetcdfExtractor final : public Extractor {
 public:
  Format format() const override { return Format::kNetcdf; }
  std::uint32_t schema_version() const override { return 1; }

  void extract(const std::filesystem::path& path, Extraction& out) const override {
    refuse_corrupt_classic_header(path);
    // netCDF-C is not thread-safe and drives the (serial) HDF5 library for netCDF-4 files.
    std::lock_guard lock(hdf5_library_mutex());
    silence_hdf5_errors();
    OpenDataset dataset(path);
    nc::Limits limits;
    nc::TypeTable types(dataset.id(), limits);
    nc::add_fields(dataset.id(), out.tree, types, limits);
    out.header = nc::cdl_header(dataset.id(), nc::dataset_name(path.native()), types, limits);
  }
};

}  // namespace

std::unique_ptr<Extractor> make_netcdf_extractor() {
  return std::make_unique<NetcdfExtractor>();
}

}  // namespace metafs::extract
