#include "dicom/dicom_extractor.hpp"

namespace metafs::extract {
namespace {

class DicomExtractor final : public Extractor {
 public:
  Format format() const override { return Format::kDicom; }
  std::uint32_t schema_version() const override { return 0; }
  void extract(const std::filesystem::path&, Extraction&) const override {
    throw ExtractError("no DICOM extractor in this build yet");
  }
};

}  // namespace

std::unique_ptr<Extractor> make_dicom_extractor() {
  return std::make_unique<DicomExtractor>();
}

}  // namespace metafs::extract
