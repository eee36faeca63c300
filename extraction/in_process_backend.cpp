#include "extraction/extraction_backend.hpp"
#include "registry.hpp"

namespace metafs::extraction {
namespace {

class InProcessBackend final : public ExtractionBackend {
 public:
  extract::Extraction extract(const extract::SourceFile& file, extract::Format detected) override {
    return registry_.extract(file, detected);
  }
  std::uint32_t schema_version(extract::Format format) const override {
    return registry_.schema_version(format);
  }

 private:
  extract::ExtractorRegistry registry_;
};

}  // namespace

std::unique_ptr<ExtractionBackend> make_in_process_backend() {
  return std::make_unique<InProcessBackend>();
}

}  // namespace metafs::extraction
