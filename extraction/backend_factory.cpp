#include "extraction/extraction_backend.hpp"
#include "extraction/worker_pool.hpp"

namespace metafs::extraction {

std::unique_ptr<ExtractionBackend> make_extraction_backend(const BackendSettings& settings) {
  if (settings.in_process) return make_in_process_backend();
  return std::make_unique<WorkerPool>(settings.pool);
}

}  // namespace metafs::extraction
