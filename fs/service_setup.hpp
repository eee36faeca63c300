#pragma once

#include "extraction/extraction_service.hpp"
#include "extraction/prefetcher.hpp"
#include "metadata_cache.hpp"
#include "options.hpp"
#include "shared_tier/shared_tier.hpp"

namespace metafs::fs {

// How the daemon turns its options into cache and service settings; metafs-index uses the same
// so that what it stores is exactly what a mount looks up. --memory-limit is the daemon's
// memory: 16 MiB of it (a quarter at most) is left to the process itself, and the rest is
// shared out between what grows with the number of files: 12/16 for the views (the one
// memory tier of decoded trees; the cache keeps none in memory), 3/16 for the inode table
// (nodes the kernel holds) and 1/16 for remembered detections.
cache::CacheOptions cache_options_for(const Options& options);
extraction::ServiceOptions service_options_for(const Options& options);
extraction::PrefetchOptions prefetch_options_for(const Options& options);
extraction::BackendSettings backend_settings_for(const Options& options);
std::uint64_t inode_budget_for(const Options& options);
// The shared tier's settings: --shared-root or else the canonical SOURCE path (options.source
// set), the writer named by this host. Precondition: options.shared_cache is not empty.
shared_tier::SharedTierOptions shared_tier_options_for(const Options& options);

}  // namespace metafs::fs
