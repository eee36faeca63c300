#include "extraction/counters.hpp"

#include <algorithm>

namespace metafs::extraction {

void LatencyRecorder::record(std::chrono::nanoseconds elapsed) {
  double seconds = std::chrono::duration<double>(elapsed).count();
  std::lock_guard lock(mutex_);
  ++count_;
  sum_ += seconds;
  for (std::size_t i = 0; i < kBucketSeconds.size(); ++i) {
    if (seconds <= kBucketSeconds[i]) ++buckets_[i];
  }
  if (recent_.size() < kWindow) {
    recent_.push_back(seconds);
  } else {
    recent_[next_] = seconds;
    next_ = (next_ + 1) % kWindow;
  }
}

LatencyRecorder::Snapshot LatencyRecorder::snapshot() const {
  Snapshot s;
  std::vector<double> sorted;
  {
    std::lock_guard lock(mutex_);
    s.count = count_;
    s.sum_seconds = sum_;
    s.cumulative = buckets_;
    sorted = recent_;
  }
  if (sorted.empty()) return s;
  std::sort(sorted.begin(), sorted.end());
  auto at = [&](double q) {
    auto i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[std::min(i, sorted.size() - 1)];
  };
  s.p50 = at(0.50);
  s.p95 = at(0.95);
  s.p99 = at(0.99);
  s.max = sorted.back();
  return s;
}

}  // namespace metafs::extraction
