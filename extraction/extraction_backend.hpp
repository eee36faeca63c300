#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "extraction.hpp"
#include "format.hpp"
#include "source_file.hpp"

namespace metafs::extraction {

// Where extractors run: in this process (tests, benchmarks, debugging) or in sandboxed worker
// processes. Thread-safe; never throws for a bad file: every failure, a crashed or timed-out
// worker included, comes back as Extraction::error, with Extraction::verdict saying whether
// the file itself caused it.
class ExtractionBackend {
 public:
  virtual ~ExtractionBackend() = default;
  // Starts what the backend runs in the background (worker processes). Called once, after
  // the daemon has detached; without it the backend starts on first use.
  virtual void start() {}
  // Reads `file` only through its descriptor.
  virtual extract::Extraction extract(const extract::SourceFile& file,
                                      extract::Format detected) = 0;
  // An HDF5-signature file on which netCDF-C crashed or hung (`netcdf_failure` says how):
  // what the HDF5 extractor reads in it, shown as netcdf with that said in `error`
  // (ExtractorRegistry::extract_hdf5_view). The default has no such view: a kCrashed failure.
  virtual extract::Extraction extract_hdf5_view(const extract::SourceFile& file,
                                                std::string_view netcdf_failure);
  // The daemon is stopping: extractions in flight end now (as passing failures, never
  // cached) and later ones fail at once. Thread-safe; may be called from any thread, once.
  virtual void cancel() {}
  // Version of what extract() produces for `format` (part of every cache key).
  virtual std::uint32_t schema_version(extract::Format format) const = 0;
  // Worker processes started and ready now (0: none, or extraction runs in this process).
  virtual unsigned workers_ready() const { return 0; }
};

// Runs the extractors in the calling thread.
std::unique_ptr<ExtractionBackend> make_in_process_backend();

// How the worker pool runs (worker_pool.hpp).
struct WorkerPoolOptions {
  unsigned workers = 1;
  double timeout_seconds = 10;              // wall-clock deadline per file, then SIGKILL
  std::uint64_t memory_bytes = 1ull << 30;  // RLIMIT_DATA of each worker
  unsigned recycle_after = 1000;            // files per worker before it is replaced
  std::filesystem::path executable;         // metafs-extract
  long uid = -1;                            // the workers' account (-1: keep ours)
  std::string account;                      // its name, for the log
  long gid = -1;
};

// Which backend runs the extractors and how: the extraction layer's own settings (the daemon
// fills them from its command line, fs/service_setup.hpp).
struct BackendSettings {
  bool in_process = false;  // no worker processes (tests, benchmarks)
  WorkerPoolOptions pool;   // otherwise
};

// The account made for the workers (systemd/metafs.sysusers): no other process runs as it, so
// none may signal or trace them.
inline constexpr const char* kDedicatedWorkerUser = "metafs-worker";

// The backend `settings` ask for.
std::unique_ptr<ExtractionBackend> make_extraction_backend(const BackendSettings& settings);

}  // namespace metafs::extraction
