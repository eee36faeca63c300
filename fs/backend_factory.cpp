#include "extraction_backend.hpp"

namespace metafs::fs {

std::unique_ptr<ExtractionBackend> make_extraction_backend(const Options& options) {
  (void)options;
  return make_in_process_backend();
}

}  // namespace metafs::fs
