#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <unordered_map>

#include "cache_key.hpp"
#include "data_version.hpp"
#include "data_view.hpp"
#include "extraction_backend.hpp"
#include "format.hpp"
#include "memory_lru.hpp"
#include "metadata_cache.hpp"
#include "source_tree.hpp"
#include "stats.hpp"

namespace metafs::fs {

struct ServiceOptions {
  unsigned concurrency = 2;                 // extractions running at once
  std::uint64_t view_memory = 96ull << 20;  // bytes of built views kept in memory
};

// Turns source files into DataViews. Detection is remembered per file version (in memory and
// in the cache); a view comes from memory, else from the metadata cache, else from one
// extraction per file version however many requests ask (single flight), at most
// `concurrency` extractions at once. Extraction results, errors included, go to the cache.
class ExtractionService {
 public:
  ExtractionService(const SourceTree& source, ServiceOptions options, Stats& stats,
                    std::unique_ptr<ExtractionBackend> backend, cache::MetadataCache& cache);
  ~ExtractionService();

  // The format of the regular file `rel` whose lstat is `st`; kNone when not scientific.
  // Reads at most a few KiB of the file, once per file version.
  extract::Format detect(const std::string& rel, const struct stat& st);

  // The one DataVersion object for this version of `rel` while anything holds it.
  std::shared_ptr<const DataVersion> version(const std::string& rel, const struct stat& st,
                                             extract::Format format);

  // The view of a version, extracting it on a miss. Never null: a file that fails shows its
  // error in the view. Precondition: the version is the file's current one (or cached).
  std::shared_ptr<const DataView> view(const DataVersion& version);
  // The view of a version if memory or the cache has it, else nullptr; never extracts.
  std::shared_ptr<const DataView> cached_view(const DataVersion& version);

  cache::MemoryLruStats view_stats() const { return views_.stats(); }

 private:
  using ViewPtr = std::shared_ptr<const DataView>;
  cache::CacheKey cache_key(const DataVersion& version) const;
  std::shared_ptr<const extract::Extraction> extract(const DataVersion& version);
  ViewPtr remember(const DataVersion& version, std::shared_ptr<const extract::Extraction> x);
  std::uint32_t schema_version(extract::Format detected) const;

  const SourceTree& source_;
  ServiceOptions options_;
  Stats& stats_;
  std::unique_ptr<ExtractionBackend> backend_;
  cache::MetadataCache& cache_;
  std::counting_semaphore<1024> slots_;

  std::mutex detect_mutex_;
  std::unordered_map<std::string, extract::Format> detected_;

  std::mutex flight_mutex_;
  std::unordered_map<std::string, std::shared_future<ViewPtr>> in_flight_;

  cache::MemoryLru<std::string, ViewPtr> views_;

  std::mutex versions_mutex_;
  std::unordered_map<std::string, std::weak_ptr<const DataVersion>> versions_;
  std::size_t versions_sweep_at_ = 1024;
  std::uint64_t pressure_subscription_ = 0;
};

// A key naming one version of one source file.
std::string version_key(const std::string& rel, const struct stat& st);

}  // namespace metafs::fs
