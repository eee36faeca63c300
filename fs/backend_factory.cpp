#include "extraction_backend.hpp"
#include "worker_pool.hpp"

namespace metafs::fs {

std::unique_ptr<ExtractionBackend> make_extraction_backend(const Options& options) {
  if (options.isolation == "none") return make_in_process_backend();
  WorkerPoolOptions pool;
  pool.workers = options.workers;
  pool.timeout_seconds = options.extract_timeout;
  pool.memory_bytes = options.worker_memory;
  pool.recycle_after = options.worker_recycle;
  pool.uid = options.worker_uid;
  pool.account = options.worker_user;
  pool.gid = options.worker_gid;
  return std::make_unique<WorkerPool>(pool);
}

}  // namespace metafs::fs
