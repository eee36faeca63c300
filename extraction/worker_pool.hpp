#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "extraction/extraction_backend.hpp"
#include "extraction/worker_process.hpp"
#include "registry.hpp"

namespace metafs::extraction {

class WorkerSpawner;

// The worker executable: $METAFS_WORKER when set, else `metafs-extract` beside this process's
// own executable.
std::filesystem::path default_worker_executable();

// Runs every extraction in a pool of sandboxed `metafs-extract --serve` processes, one request
// at a time per worker. A crash, a timeout, an exhausted memory limit or a reply that fails
// validation becomes Extraction::error and costs only that request: the worker is killed and
// replaced. The workers are started by start() (the daemon calls it once it has detached) or
// on first use, never in the constructor.
class WorkerPool final : public ExtractionBackend {
 public:
  explicit WorkerPool(WorkerPoolOptions options);
  ~WorkerPool() override;
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  extract::Extraction extract(const extract::SourceFile& file, extract::Format detected) override;
  extract::Extraction extract_hdf5_view(const extract::SourceFile& file,
                                        std::string_view netcdf_failure) override;
  std::uint32_t schema_version(extract::Format format) const override;
  // The pool is the process's only one: its workers are WorkerProcess's count.
  unsigned workers_ready() const override { return WorkerProcess::ready_count(); }
  void start() override { start_once(); }
  // Kills the workers of requests in flight (each by its own request's thread) and starts no
  // new ones.
  void cancel() override;

 private:
  struct Slot {
    std::unique_ptr<WorkerProcess> process;
    bool busy = true;  // owned by a request or by a pending spawn
    unsigned files = 0;
  };

  void start_once();
  // Spawns a worker into `slot` on the spawner thread and makes the slot free again.
  void respawn_async(std::size_t slot);
  std::unique_ptr<WorkerProcess> spawn_now();
  std::size_t acquire(Clock::time_point deadline);  // SIZE_MAX when none came free
  void release(std::size_t slot);
  // `hdf5_view`: the worker reads the file with the HDF5 extractor (kHdf5ViewFlag).
  extract::Extraction send_request(const extract::SourceFile& file, extract::Format detected,
                                   bool hdf5_view);
  extract::Extraction run(Slot& slot, const extract::SourceFile& file, extract::Format detected,
                          bool hdf5_view);
  extract::Extraction failure(extract::Format detected, std::string why,
                              extract::Extraction::Verdict verdict) const;
  std::string death_message(int wait_status) const;

  WorkerPoolOptions options_;
  WorkerCommand command_;
  extract::ExtractorRegistry versions_;  // only for schema_version(): never extracts here

  std::once_flag started_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<Slot> slots_;
  // Readable once cancel() ran: every worker's waits watch it. Written once, never read.
  int cancel_fd_ = -1;
  std::atomic<bool> cancelled_{false};
  std::unique_ptr<WorkerSpawner> spawner_;  // destroyed first: no job outlives the slots
};

// "1 GiB", "512 MiB", "1536 KiB", "1000 bytes".
std::string human_bytes(std::uint64_t bytes);

}  // namespace metafs::extraction
