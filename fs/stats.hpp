#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "extraction/counters.hpp"

namespace metafs::fs {

using extraction::LatencyRecorder;

// Counters shown in /.metafs/stats.json and /.metafs/metrics: the requests the adapter served,
// and (inherited) what the extraction layer counts, which it is handed as a Counters&.
struct Stats : extraction::Counters {
  std::atomic<std::uint64_t> lookups{0};
  std::atomic<std::uint64_t> getattrs{0};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> readdirs{0};         // directories opened
  std::atomic<std::uint64_t> readdir_replies{0};  // listing requests answered
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

}  // namespace metafs::fs
