#pragma once

#include "extraction_service.hpp"
#include "metadata_cache.hpp"
#include "options.hpp"
#include "prefetcher.hpp"

namespace metafs::fs {

// How the daemon turns its options into cache and service settings; metafs-index uses the same
// so that what it stores is exactly what a mount looks up. A quarter of --memory-limit goes to
// decoded trees in the cache, the rest to built views.
cache::CacheOptions cache_options_for(const Options& options);
ServiceOptions service_options_for(const Options& options);
PrefetchOptions prefetch_options_for(const Options& options);

}  // namespace metafs::fs
