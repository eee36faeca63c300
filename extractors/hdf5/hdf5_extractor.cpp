#include "hdf5/hdf5_extractor.hpp"

#include <cctype>

namespace metafs::extract {
namespace {

class Hdf5Extractor final : public Extractor {
 public:
  Format format() const override { return Format::kHdf5; }
  std::uint32_t schema_version() const override { return 0; }
  void extract(const std::filesystem::path&, Extraction&) const override {
    throw ExtractError("no HDF5 extractor in this build yet");
  }
};

}  // namespace

std::unique_ptr<Extractor> make_hdf5_extractor() {
  return std::make_unique<Hdf5Extractor>();
}

}  // namespace metafs::extract

namespace metafs::extract {

bool hdf5_file_is_netcdf4(const std::filesystem::path& path) {
  auto ext = path.extension().string();
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".nc" || ext == ".nc4" || ext == ".cdf" || ext == ".netcdf";
}

}  // namespace metafs::extract
