#include "service_setup.hpp"

namespace metafs::fs {

cache::CacheOptions cache_options_for(const Options& options) {
  cache::CacheOptions cache;
  cache.dir = options.cache_dir;
  cache.disk_limit = options.cache_size;
  cache.memory_limit = options.memory_limit / 16 * 3;
  cache.enabled = !options.no_cache;
  return cache;
}

ServiceOptions service_options_for(const Options& options) {
  ServiceOptions service;
  service.concurrency = options.workers;
  service.view_memory = options.memory_limit / 16 * 9;
  service.detection_memory = options.memory_limit / 16;
  return service;
}

std::uint64_t inode_budget_for(const Options& options) {
  return options.memory_limit / 16 * 3;
}

PrefetchOptions prefetch_options_for(const Options& options) {
  PrefetchOptions prefetch;
  prefetch.window = options.prefetch;
  prefetch.threads = options.workers;
  return prefetch;
}

}  // namespace metafs::fs
