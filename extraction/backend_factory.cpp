#include "extraction/extraction_backend.hpp"
#include "extraction/worker_pool.hpp"

namespace metafs::extraction {

std::unique_ptr<ExtractionBackend> make_extraction_backend(const BackendSettings& settings) {
  if (settings.in_process) return make_in_process_backend();
  WorkerPoolOptions pool;
  pool.workers = settings.workers;
  pool.timeout_seconds = settings.timeout_seconds;
  pool.memory_bytes = settings.worker_memory;
  pool.recycle_after = settings.recycle_after;
  pool.uid = settings.uid;
  pool.account = settings.account;
  pool.gid = settings.gid;
  return std::make_unique<WorkerPool>(pool);
}

}  // namespace metafs::extraction
