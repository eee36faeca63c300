#include "fits/fits_extractor.hpp"

namespace metafs::extract {
namespace {

class FitsExtractor final : public Extractor {
 public:
  Format format() const override { return Format::kFits; }
  std::uint32_t schema_version() const override { return 0; }
  void extract(const std::filesystem::path&, Extraction&) const override {
    throw ExtractError("no FITS extractor in this build yet");
  }
};

}  // namespace

std::unique_ptr<Extractor> make_fits_extractor() {
  return std::make_unique<FitsExtractor>();
}

}  // namespace metafs::extract
