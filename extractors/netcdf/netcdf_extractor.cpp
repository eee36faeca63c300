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

// netCDF-C reads a classic header in blocks of up to 4 KiB and, through a file descriptor,
// sees zeros past the end of the file. From memory it refuses (EPERM) to read past the
// end instead, so a file whose header ends in the last, partial block would not open. Every
// image leaves this much readable zero memory after its end for a second try.
constexpr std::size_t kZeroTail = 4096;

// A dataset's bytes as netCDF-C reads them: the file, or a repaired classic header.
struct Image {
  const void* data = nullptr;
  std::size_t size = 0;
};

// The whole file mapped read-only, followed by at least kZeroTail zero bytes. netCDF-C opens
// files only by name; nc_open_mem reads a dataset from memory instead (netCDF-4 through
// HDF5's file-image driver, without a copy), so the mapping lets it read through our
// descriptor. Only the pages the header touches are read.
class FileMapping {
 public:
  explicit FileMapping(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw ExtractError("not a regular file");
    if (st.st_size == 0) throw ExtractError("empty file");
    size_ = static_cast<std::size_t>(st.st_size);
    auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::size_t file_pages = (size_ + page - 1) / page * page;
    length_ = file_pages + (kZeroTail + page - 1) / page * page;
    // Anonymous zero pages first, the file over their start: past the end of the file the
    // last page of the file mapping is zero, and so are the anonymous pages after it.
    data_ = ::mmap(nullptr, length_, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data_ == MAP_FAILED) {
      data_ = nullptr;
      throw ExtractError(std::string("cannot map the file: ") + std::strerror(errno));
    }
    if (::mmap(data_, size_, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0) == MAP_FAILED) {
      int error = errno;
      ::munmap(data_, length_);
      data_ = nullptr;
      throw ExtractError(std::string("cannot map the file: ") + std::strerror(error));
    }
  }
  ~FileMapping() {
    if (data_ != nullptr) ::munmap(data_, length_);
  }
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;

  Image image() const { return {data_, size_}; }

 private:
  void* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t length_ = 0;
};

bool is_classic(const Image& image) {
  return image.size >= 4 && std::memcmp(image.data, "CDF", 3) == 0;
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
  // `image` must be followed by kZeroTail readable zero bytes.
  OpenDataset(const std::string& name, const Image& image) {
    // nc_open_mem does not write to the memory without NC_WRITE.
    void* data = const_cast<void*>(image.data);
    int status = nc_open_mem(name.c_str(), NC_NOWRITE, image.size, data, &ncid_);
    // memio says EPERM (errno's) when asked to read past the end.
    if (status == EPERM && is_classic(image))
      status = nc_open_mem(name.c_str(), NC_NOWRITE, image.size + kZeroTail, data, &ncid_);
    nc::check(status, "cannot open as netCDF");
  }
  ~OpenDataset() { nc_close(ncid_); }
  OpenDataset(const OpenDataset&) = delete;
  OpenDataset& operator=(const OpenDataset&) = delete;

  int id() const { return ncid_; }

 private:
  int ncid_ = -1;
};

// Fills `out` from the dataset in `image`.
void describe(const SourceFile& file, const Image& image, Extraction& out) {
  // netCDF-C is not thread-safe and drives the (serial) HDF5 library for netCDF-4 files.
  std::lock_guard lock(hdf5_library_mutex());
  silence_hdf5_errors();
  OpenDataset dataset(file.name(), image);
  nc::Limits limits;
  nc::TypeTable types(dataset.id(), limits);
  nc::DatasetReads reads(types, limits);
  nc::add_fields(dataset.id(), out.tree, types, limits, reads);
  out.header = nc::cdl_header(dataset.id(), nc::dataset_name(file.name()), types, limits, reads);
}

class NetcdfExtractor final : public Extractor {
 public:
  Format format() const override { return Format::kNetcdf; }
  std::uint32_t schema_version() const override { return 2; }

  void extract(const SourceFile& file, Extraction& out) const override {
    // A damaged classic header never reaches the library (it crashes on some); what was
    // read completely before the damage is shown from a repaired copy of the header.
    nc::ClassicHeaderCheck check = nc::check_classic_header(file.fd());
    if (!check.damage.empty()) {
      if (!check.salvaged.empty()) {
        std::string bytes = std::move(check.salvaged);
        std::size_t size = bytes.size();
        bytes.resize(size + kZeroTail, '\0');
        try {
          describe(file, {bytes.data(), size}, out);
        } catch (const ExtractError&) {
          // The damage is the reason to give; what the repaired copy showed stays.
        }
      }
      throw ExtractError(check.damage);
    }
    FileMapping mapping(file.fd());
    describe(file, mapping.image(), out);
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
