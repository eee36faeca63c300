#include "hdf5/hdf5_extractor.hpp"

#include <fcntl.h>
#include <hdf5.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "hdf5_fields.hpp"
#include "hdf5_handle.hpp"
#include "hdf5_header.hpp"
#include "hdf5_model.hpp"
#include "hdf5_probe_cache.hpp"
#include "hdf5_reader.hpp"
#include "library_lock.hpp"

namespace metafs::extract {
namespace {

class Hdf5Extractor final : public Extractor {
 public:
  explicit Hdf5Extractor(const hdf5::Limits& limits) : limits_(limits) {}

  Format format() const override { return Format::kHdf5; }
  // 2: comments, committed and anonymous types, enum padding, VAX and big-endian string names.
  std::uint32_t schema_version() const override { return 2; }

  void extract(const SourceFile& file, Extraction& out) const override {
    extract_hdf5(file.fd(), file.base_name(), limits_, out);
  }

 private:
  hdf5::Limits limits_;
};

}  // namespace

void extract_hdf5(int fd, const std::string& name, const hdf5::Limits& limits, Extraction& out) {
  hdf5::FileModel model;
  {
    std::lock_guard lock(hdf5_library_mutex());
    if (hdf5::OpenFile probed = hdf5::take_probed_file(fd)) {
      hdf5::read_open_hdf5_file(probed.file.get(), limits, model);
    } else {
      hdf5::read_hdf5_file(fd, limits, model);
    }
  }
  // Rendering needs no library calls.
  hdf5::build_fields(model, limits, out.tree);
  out.header = hdf5::render_header(model, name);
  if (model.unreadable > 0) {
    throw ExtractError(std::to_string(model.unreadable) +
                       " objects, links or attributes could not be read (fields/ says where)");
  }
}

std::unique_ptr<Extractor> make_hdf5_extractor() {
  return std::make_unique<Hdf5Extractor>(hdf5::Limits{});
}

std::unique_ptr<Extractor> make_hdf5_extractor(const hdf5::Limits& limits) {
  return std::make_unique<Hdf5Extractor>(limits);
}

std::string hdf5_library_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}

}  // namespace metafs::extract

namespace metafs::extract {
namespace {

constexpr std::size_t kMaxRootLinksChecked = 64;

struct RootLinks {
  std::array<std::string, kMaxRootLinksChecked> names;
  std::size_t count = 0;
};

herr_t collect_root_link(hid_t, const char* name, const H5L_info_t* info, void* data) noexcept {
  auto* links = static_cast<RootLinks*>(data);
  if (links->count >= links->names.size()) return 1;
  if (info->type != H5L_TYPE_HARD) return 0;
  try {
    links->names[links->count++] = name;
  } catch (...) {
    return -1;
  }
  return 0;
}

bool has_netcdf4_attributes(hid_t file) {
  hdf5::Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
  if (!root) return false;
  for (const char* name : {"_NCProperties", "_nc3_strict"}) {
    if (H5Aexists(root.get(), name) > 0) return true;
  }
  RootLinks links;
  hsize_t index = 0;
  H5Literate(root.get(), H5_INDEX_NAME, H5_ITER_NATIVE, &index, collect_root_link, &links);
  for (std::size_t i = 0; i < links.count; ++i) {
    H5O_info_t info;
    const char* name = links.names[i].c_str();
    if (H5Oget_info_by_name2(root.get(), name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        info.type != H5O_TYPE_DATASET) {
      continue;
    }
    for (const char* attribute : {"_Netcdf4Dimid", "_Netcdf4Coordinates"}) {
      if (H5Aexists_by_name(root.get(), name, attribute, H5P_DEFAULT) > 0) return true;
    }
  }
  return false;
}

// Reads the file `own` through the descriptor driver; an HDF5 file stays open, with `own`,
// for the extraction that follows.
bool probe_netcdf4(hdf5::Descriptor own) {
  std::lock_guard lock(hdf5_library_mutex());
  hdf5::configure_hdf5_library();
  // Closed first: a file kept from an earlier check is never open twice.
  hdf5::drop_probed_file();
  hdf5::OpenFile probed;
  probed.file = hdf5::Handle(hdf5::open_hdf5_file(own.get()));
  probed.descriptor = std::move(own);
  if (!probed) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  bool netcdf = has_netcdf4_attributes(probed.file.get());
  H5Eclear2(H5E_DEFAULT);
  // A netCDF-4 file is closed now, since netCDF-C opens it with other file-access properties.
  if (!netcdf) hdf5::keep_probed_file(std::move(probed));
  return netcdf;
}

}  // namespace

bool hdf5_file_is_netcdf4(int fd, const std::filesystem::path& name) {
  try {
    if (has_netcdf_name(name.filename().string())) return true;
    // The file kept for the extraction must not depend on the caller's descriptor.
    hdf5::Descriptor own(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!own) return false;
    return probe_netcdf4(std::move(own));
  } catch (...) {
    return false;
  }
}

}  // namespace metafs::extract
