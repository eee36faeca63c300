#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <semaphore>
#include <string>
#include <unordered_map>

#include "data_view.hpp"
#include "extraction_backend.hpp"
#include "format.hpp"
#include "source_tree.hpp"
#include "stats.hpp"

namespace metafs::fs {

struct ServiceOptions {
  unsigned concurrency = 2;                   // extractions running at once
  std::uint64_t memory_limit = 128ull << 20;  // bytes of views kept in memory
};

// Turns source files into DataViews: detection (remembered per file signature), then
// extraction on a miss — one extraction per file version at a time however many requests
// ask (single flight), at most `concurrency` at once.
class ExtractionService {
 public:
  ExtractionService(const SourceTree& source, ServiceOptions options, Stats& stats,
                    std::unique_ptr<ExtractionBackend> backend);

  // The format of the regular file `rel` whose lstat is `st`; kNone when not scientific.
  // Reads at most a few KiB of the file, once per file version.
  extract::Format detect(const std::string& rel, const struct stat& st);

  // The view of scientific file `rel` (lstat `st`, detected as `format`). Never null: a file
  // that fails shows its error in the view.
  std::shared_ptr<const DataView> view(const std::string& rel, const struct stat& st,
                                       extract::Format format);

  std::uint64_t memory_bytes() const;

 private:
  using ViewPtr = std::shared_ptr<const DataView>;
  std::shared_ptr<const extract::Extraction> run_extraction(const std::string& rel,
                                                            extract::Format format);
  ViewPtr lru_get(const std::string& key);
  void lru_put(const std::string& key, ViewPtr view);

  const SourceTree& source_;
  ServiceOptions options_;
  Stats& stats_;
  std::unique_ptr<ExtractionBackend> backend_;
  std::counting_semaphore<1024> slots_;

  std::mutex detect_mutex_;
  std::unordered_map<std::string, extract::Format> detected_;

  std::mutex flight_mutex_;
  std::unordered_map<std::string, std::shared_future<ViewPtr>> in_flight_;

  mutable std::mutex lru_mutex_;
  std::list<std::pair<std::string, ViewPtr>> lru_;  // most recent first
  std::unordered_map<std::string, decltype(lru_)::iterator> lru_index_;
  std::uint64_t lru_bytes_ = 0;
};

// A key naming one version of one source file.
std::string version_key(const std::string& rel, const struct stat& st);

}  // namespace metafs::fs
