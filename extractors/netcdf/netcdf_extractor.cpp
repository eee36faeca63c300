#include "netcdf/netcdf_extractor.hpp"

#include <fcntl.h>
#include <hdf5.h>
#include <netcdf.h>
#include <netcdf_mem.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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
void refuse_corrupt_classic_header(const SourceFile& file) {
  std::string reason = nc::check_classic_header(file.fd());
  if (!reason.empty()) throw ExtractError(reason);
}

// The whole file mapped read-only. netCDF-C opens files only by name; nc_open_mem reads a
// dataset from memory instead (netCDF-4 through HDF5's file-image driver, without a copy), so
// the mapping lets it read through our descriptor. Only the pages the header touches are read.
class FileMapping {
 public:
  explicit FileMapping(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw ExtractError("not a regular file");
    if (st.st_size == 0) throw ExtractError("empty file");
    size_ = static_cast<std::size_t>(st.st_size);
    data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (data_ == MAP_FAILED) {
      data_ = nullptr;
      throw ExtractError(std::string("cannot map the file: ") + std::strerror(errno));
    }
  }
  ~FileMapping() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;

  void* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

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
  OpenDataset(const std::string& name, const FileMapping& mapping) {
    nc::check(nc_open_mem(name.c_str(), NC_NOWRITE, mapping.size(), mapping.data(), &ncid_),
              "cannot open as netCDF");
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

  void extract(const SourceFile& file, Extraction& out) const override {
    refuse_corrupt_classic_header(file);
    FileMapping mapping(file.fd());
    // netCDF-C is not thread-safe and drives the (serial) HDF5 library for netCDF-4 files.
    std::lock_guard lock(hdf5_library_mutex());
    silence_hdf5_errors();
    OpenDataset dataset(file.name(), mapping);
    nc::Limits limits;
    nc::TypeTable types(dataset.id(), limits);
    nc::add_fields(dataset.id(), out.tree, types, limits);
    out.header = nc::cdl_header(dataset.id(), nc::dataset_name(file.name()), types, limits);
  }
};

}  // namespace

std::unique_ptr<Extractor> make_netcdf_extractor() {
  return std::make_unique<NetcdfExtractor>();
}

std::string netcdf_library_version() {
  std::string text = nc_inq_libvers();  // "4.9.0 of Jan  1 2023 12:00:00 $"
  return text.substr(0, text.find(' '));
}

}  // namespace metafs::extract
