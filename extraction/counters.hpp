#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

namespace metafs::extraction {

// Extraction latencies: a fixed Prometheus-style histogram plus a ring of recent samples for
// exact percentiles of the last few thousand extractions.
class LatencyRecorder {
 public:
  static constexpr std::array<double, 12> kBucketSeconds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};

  void record(std::chrono::nanoseconds elapsed);

  struct Snapshot {
    std::uint64_t count = 0;
    double sum_seconds = 0;
    std::array<std::uint64_t, kBucketSeconds.size()> cumulative{};  // <= bucket bound
    double p50 = 0, p95 = 0, p99 = 0, max = 0;                      // seconds, recent window
  };
  Snapshot snapshot() const;

 private:
  static constexpr std::size_t kWindow = 4096;
  mutable std::mutex mutex_;
  std::uint64_t count_ = 0;
  double sum_ = 0;
  std::array<std::uint64_t, kBucketSeconds.size()> buckets_{};
  std::vector<double> recent_;
  std::size_t next_ = 0;
};

// What the extraction layer counts; the daemon shows them in /.metafs/stats.json and
// /.metafs/metrics beside its own (fs::Stats).
struct Counters {
  std::atomic<std::uint64_t> detections{0};
  std::atomic<std::uint64_t> extractions{0};
  std::atomic<std::uint64_t> errors{0};  // extractions that ended with an error file
  std::atomic<std::uint64_t> view_hits{0};
  std::atomic<std::uint64_t> prefetched{0};  // views made ready ahead of a request
  std::atomic<std::uint64_t> retried{0};     // results not kept: a passing failure or a first crash
  std::atomic<std::uint64_t> shared_hits{0};  // extractions found in the shared tier instead
  LatencyRecorder extraction_latency;
};

}  // namespace metafs::extraction
