#include "netcdf/netcdf_extractor.hpp"

namespace metafs::extract {
namespace {

class NetcdfExtractor final : public Extractor {
 public:
  Format format() const override { return Format::kNetcdf; }
  std::uint32_t schema_version() const override { return 0; }
  void extract(const std::filesystem::path&, Extraction&) const override {
    throw ExtractError("no NETCDF extractor in this build yet");
  }
};

}  // namespace

std::unique_ptr<Extractor> make_netcdf_extractor() {
  return std::make_unique<NetcdfExtractor>();
}

}  // namespace metafs::extract
