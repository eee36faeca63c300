#include "extraction/extraction_backend.hpp"
#include "registry.hpp"

namespace metafs::extraction {
namespace {

class InProcessBackend final : public ExtractionBackend {
 public:
  extract::Extraction extract(const extract::SourceFile& file, extract::Format detected) override {
    return registry_.extract(file, detected);
  }
  extract::Extraction extract_hdf5_view(const extract::SourceFile& file,
                                        std::string_view netcdf_failure) override {
    return registry_.extract_hdf5_view(file, netcdf_failure);
  }
  std::uint32_t schema_version(extract::Format format) const override {
    return registry_.schema_version(format);
  }

 private:
  extract::ExtractorRegistry registry_;
};

}  // namespace

extract::Extraction ExtractionBackend::extract_hdf5_view(const extract::SourceFile&,
                                                         std::string_view netcdf_failure) {
  extract::Extraction none;
  none.format = extract::Format::kNetcdf;
  none.error = std::string(netcdf_failure);
  none.verdict = extract::Extraction::Verdict::kCrashed;
  return none;
}

std::unique_ptr<ExtractionBackend> make_in_process_backend() {
  return std::make_unique<InProcessBackend>();
}

}  // namespace metafs::extraction
