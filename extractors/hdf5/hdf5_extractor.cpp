#include "hdf5/hdf5_extractor.hpp"

#include <hdf5.h>

#include <array>
#include <cctype>
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
  std::uint32_t schema_version() const override { return 1; }

  void extract(const SourceFile& file, Extraction& out) const override {
    const std::filesystem::path path = file.descriptor_path();
    hdf5::FileModel model;
    {
      std::lock_guard lock(hdf5_library_mutex());
      if (hdf5::Handle probed = hdf5::take_probed_file(path)) {
        hdf5::read_open_hdf5_file(probed.get(), limits_, model);
      } else {
        hdf5::read_hdf5_file(path, limits_, model);
      }
    }
    // Rendering needs no library calls.
    hdf5::build_fields(model, limits_, out.tree);
    out.header = hdf5::render_header(model, file.base_name());
    if (model.unreadable > 0) {
      throw ExtractError(std::to_string(model.unreadable) +
                         " objects, links or attributes could not be read (fields/ says where)");
    }
  }

 private:
  hdf5::Limits limits_;
};

}  // namespace

std::unique_ptr<Extractor> make_hdf5_extractor() {
  return std::make_unique<Hdf5Extractor>(hdf5::Limits{});
}

std::unique_ptr<Extractor> make_hdf5_extractor(const hdf5::Limits& limits) {
  return std::make_unique<Hdf5Extractor>(limits);
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

}  // namespace

bool hdf5_file_is_netcdf4(const SourceFile& source) {
  try {
    const std::filesystem::path path = source.descriptor_path();
    auto ext = std::filesystem::path(source.base_name()).extension().string();
    for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == ".nc" || ext == ".nc4" || ext == ".cdf" || ext == ".netcdf") return true;
    std::lock_guard lock(hdf5_library_mutex());
    hdf5::configure_hdf5_library();
    hdf5::Handle file(hdf5::open_hdf5_file(path));
    if (!file) {
      H5Eclear2(H5E_DEFAULT);
      return false;
    }
    bool netcdf = has_netcdf4_attributes(file.get());
    H5Eclear2(H5E_DEFAULT);
    // An HDF5 file is extracted next: keep it open for that. A netCDF-4 file is closed now,
    // since netCDF-C opens it with other file-access properties.
    if (!netcdf) hdf5::keep_probed_file(path, std::move(file));
    return netcdf;
  } catch (...) {
    return false;
  }
}

}  // namespace metafs::extract
