#include "service_setup.hpp"

#include <unistd.h>

#include <algorithm>

#include "query_engine.hpp"

namespace metafs::fs {
namespace {

// What the process needs whatever the number of files (libraries, thread stacks and buffers,
// the cache's write batches): left out of the shares below, a quarter of the limit at most.
constexpr std::uint64_t kProcessReserve = 16ull << 20;

// The part of --memory-limit shared out between what grows with the number of files.
std::uint64_t shared_memory(const Options& options) {
  return options.memory_limit - std::min(kProcessReserve, options.memory_limit / 4);
}

}  // namespace

cache::CacheOptions cache_options_for(const Options& options) {
  cache::CacheOptions cache;
  cache.dir = options.cache_dir;
  cache.disk_limit = options.cache_size;
  cache.enabled = !options.no_cache;
  cache.index = query::cache_index_options(query::parse_index_fields(options.index_fields));
  return cache;
}

extraction::ServiceOptions service_options_for(const Options& options) {
  extraction::ServiceOptions service;
  service.concurrency = options.workers;
  // The views are the only memory tier of decoded trees (the cache keeps none in memory).
  service.view_memory = shared_memory(options) / 16 * 12;
  service.detection_memory = shared_memory(options) / 16;
  return service;
}

std::uint64_t inode_budget_for(const Options& options) {
  return shared_memory(options) / 16 * 3;
}

extraction::PrefetchOptions prefetch_options_for(const Options& options) {
  extraction::PrefetchOptions prefetch;
  prefetch.window = options.prefetch;
  prefetch.threads = options.workers;
  return prefetch;
}

extraction::BackendSettings backend_settings_for(const Options& options) {
  extraction::BackendSettings backend;
  backend.in_process = options.isolation == "none";
  backend.pool.workers = options.workers;
  backend.pool.timeout_seconds = options.extract_timeout;
  backend.pool.memory_bytes = options.worker_memory;
  backend.pool.recycle_after = options.worker_recycle;
  backend.pool.uid = options.worker_uid;
  backend.pool.account = options.worker_user;
  backend.pool.gid = options.worker_gid;
  return backend;
}

shared_tier::SharedTierOptions shared_tier_options_for(const Options& options) {
  shared_tier::SharedTierOptions shared;
  shared.uri = options.shared_cache;
  shared.root = options.shared_root.empty() ? options.source.string() : options.shared_root;
  shared.lookup_timeout = std::chrono::milliseconds(options.shared_timeout_ms);
  // Lookups come from request threads and read-ahead (as many threads as workers): a
  // connection for each, so none waits for another's.
  shared.lookup_connections = std::clamp(options.workers * 2 + 2, 4u, 32u);
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) shared.writer_name = host;
  return shared;
}

}  // namespace metafs::fs
