#pragma once

#include <sys/stat.h>

#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <unordered_map>

#include "cache_key.hpp"
#include "extraction/counters.hpp"
#include "extraction/data_version.hpp"
#include "extraction/data_view.hpp"
#include "extraction/extraction_backend.hpp"
#include "extraction/source_tree.hpp"
#include "format.hpp"
#include "memory_lru.hpp"
#include "metadata_cache.hpp"
#include "shared_tier/shared_tier.hpp"

namespace metafs::extraction {

struct ServiceOptions {
  unsigned concurrency = 2;                     // extractions running at once
  std::uint64_t view_memory = 96ull << 20;      // bytes of built views kept in memory
  std::uint64_t detection_memory = 8ull << 20;  // bytes of remembered detection results
};

// Turns source files into DataViews. Detection is remembered per file version (in memory and
// in the cache); a view comes from memory, else from the metadata cache, else from one
// extraction per file version however many requests ask (single flight), at most
// `concurrency` extractions at once. Extraction results, errors included, go to the cache
// when they are the file's verdict: a file that cannot be opened, changed while it was read or
// whose worker was killed from outside is tried again on a later lookup (a new attempt, see
// version()), and a crash or timeout is kept only when it happens a second time.
//
// The file is opened beneath SOURCE here, and the extractor reads only that descriptor; the
// cache key is the signature of what was opened (fstat), and must equal the version's lstat:
// a file swapped between the lookup and the open costs an extraction, never a wrong view.
class ExtractionService {
 public:
  ExtractionService(const SourceTree& source, ServiceOptions options, Counters& stats,
                    std::unique_ptr<ExtractionBackend> backend, cache::MetadataCache& cache);
  ~ExtractionService();

  // The format of the regular file `rel` whose lstat is `st`; kNone when not scientific.
  // Reads at most a few KiB of the file, once per file version.
  extract::Format detect(const std::string& rel, const struct stat& st);

  // The one DataVersion object for this version of `rel` while anything holds it; a new
  // attempt (a new object, new inodes) once a passing failure of the last one is due for retry.
  std::shared_ptr<const DataVersion> version(const std::string& rel, const struct stat& st,
                                             extract::Format format);

  // The view of a version, extracting it on a miss. Never null: a file that fails shows its
  // error in the view. Precondition: the version is the file's current one (or cached).
  std::shared_ptr<const DataView> view(const DataVersion& version);
  // The freshness rule of a view something still holds (an inode of the kernel's): from memory
  // or the cache, else extracted again, but only if the file is still that version; nullptr
  // when it has changed since (the caller answers ESTALE).
  std::shared_ptr<const DataView> held_view(const DataVersion& version);
  // The view of a version if memory or the cache has it, else nullptr; never extracts.
  std::shared_ptr<const DataView> cached_view(const DataVersion& version);
  // Makes the view of a version ready ahead of a request: nothing to do when memory or the
  // cache on disk has it (it is decoded when asked for), else an extraction that starts only
  // while no request waits for an extraction slot (a request for the same version meanwhile
  // joins it). Returns false when `stop` was requested first.
  bool prefetch(const DataVersion& version, std::stop_token stop);

  // The shared tier (PostgreSQL) to ask after the cache misses, before extracting, and to share
  // each kept extraction with; nullptr (the default) for none. Set before the first request;
  // it must outlive the service.
  void set_shared_tier(shared_tier::SharedTier* shared) { shared_ = shared; }

  cache::MemoryLruStats view_stats() const { return views_.stats(); }
  // Requests waiting for an extraction slot now (a gauge: tests wait on it to know a request
  // is queued behind the slots).
  unsigned requests_waiting() { return slots_.requests_waiting(); }

  // Ends the extractions in flight and fails later ones (ExtractionBackend::cancel).
  void cancel() { backend_->cancel(); }
  // Worker processes started and ready (ExtractionBackend::workers_ready).
  unsigned workers_ready() const { return backend_->workers_ready(); }

 private:
  using ViewPtr = std::shared_ptr<const DataView>;

  // At most `concurrency` extractions at once; requests go before background work.
  class Slots {
   public:
    explicit Slots(unsigned count) : free_(count) {}
    void acquire();
    // Waits while no slot is free or a request is waiting; false when `stop` came first.
    bool acquire_background(std::stop_token stop);
    void release();
    unsigned requests_waiting() {
      std::lock_guard lock(mutex_);
      return requests_waiting_;
    }

   private:
    std::mutex mutex_;
    std::condition_variable_any changed_;
    unsigned free_;
    unsigned requests_waiting_ = 0;
  };

  cache::CacheKey cache_key(const DataVersion& version) const;
  // The view from memory, else from the cache (then kept in memory), else nullptr.
  ViewPtr find_view(const DataVersion& version, bool count_hit);
  // Joins the extraction in flight for `version`, or leads one (then *extracted says whether
  // it extracted). `slot_held`: the caller already holds an extraction slot (released here).
  ViewPtr lead_or_join(const DataVersion& version, bool slot_held, bool* extracted);
  std::shared_ptr<const extract::Extraction> extract(const DataVersion& version, bool slot_held);
  // Opens the version's file beneath SOURCE and runs the backend on it.
  extract::Extraction extract_opened(const DataVersion& version);
  extract::Extraction hdf5_view_after_crash(const extract::SourceFile& file,
                                            extract::Extraction crashed);
  // Whether `result` may be cached as the version's verdict (counts crashes).
  bool is_verdict(const DataVersion& version, const extract::Extraction& result);
  ViewPtr remember(const DataVersion& version, std::shared_ptr<const extract::Extraction> x);
  // The view of `version` showing `x` (not kept anywhere).
  static ViewPtr make_view(const DataVersion& version,
                           std::shared_ptr<const extract::Extraction> x);
  // The version's extraction from the shared tier (then kept in the local cache too), or
  // nullptr; waits at most the tier's lookup deadline.
  std::shared_ptr<const extract::Extraction> from_shared_tier(const DataVersion& version);
  // Queues a kept extraction for the shared tier, with who may read the file.
  void share(const DataVersion& version, const cache::CacheKey& key,
             std::shared_ptr<const extract::Extraction> extraction);
  std::uint32_t schema_version(extract::Format detected) const;

  const SourceTree& source_;
  ServiceOptions options_;
  Counters& stats_;
  std::unique_ptr<ExtractionBackend> backend_;
  cache::MetadataCache& cache_;
  shared_tier::SharedTier* shared_ = nullptr;
  Slots slots_;

  // Lock order: there is none to keep, because no two of these are ever held together. Each
  // mutex below (and Slots's, views_'s, DataVersion's passing view's) guards its own map for a
  // lookup or an insert and is released before anything else is called; the cache, the
  // backend and the source tree are called with none held, and a request waits for an
  // extraction only on a shared_future or a slot, never under a lock. Keep it so: a lock held
  // across an extraction would stall every request behind one slow file.

  std::mutex detect_mutex_;
  std::unordered_map<std::string, extract::Format> detected_;

  std::mutex flight_mutex_;
  std::unordered_map<std::string, std::shared_future<ViewPtr>> in_flight_;

  cache::MemoryLru<std::string, ViewPtr> views_;
  std::size_t max_detections_;

  // Crashes and timeouts per file version (FileVersion::key), until the second one is final.
  std::mutex crashes_mutex_;
  std::unordered_map<std::string, unsigned> crashes_;

  std::mutex versions_mutex_;
  std::unordered_map<std::string, std::weak_ptr<const DataVersion>> versions_;
  std::size_t versions_sweep_at_ = 1024;
  std::uint64_t pressure_subscription_ = 0;
};

}  // namespace metafs::extraction
