#pragma once

#include <sys/stat.h>

#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "node.hpp"
#include "pressure_level.hpp"
#include "stats.hpp"

namespace metafs::fs {

// /.metafs: what the daemon knows about itself. Each file is rendered afresh when it is
// looked up (its name is never cached by the kernel, so every open looks it up); attributes
// and reads then serve that snapshot, so the size the kernel saw and the bytes it reads
// always agree, however many reads one open makes.
class ControlFiles {
 public:
  // A number shown in stats.json (as "name") and in metrics (as metafs_name).
  struct Metric {
    std::string name;
    std::string help;
    bool counter;  // else a gauge
    std::uint64_t value;
  };
  struct Extra {
    std::vector<Metric> metrics;
    // A word: "name": "value" in stats.json, metafs_<name>_info{<label>="value"} 1 in metrics.
    struct Text {
      std::string name;
      std::string label;
      std::string help;
      std::string value;
    };
    std::vector<Text> texts;
    std::optional<cache::PressureLevel> pressure;  // none without a cache
    cache::PressureTrigger pressure_trigger = cache::PressureTrigger::kNone;  // what set it
  };
  // `extra` adds what other parts know (the cache, memory, inodes).
  using ExtraSource = std::function<Extra()>;
  ControlFiles(const Stats& stats, ExtraSource extra);

  static const char* name(ControlFile file);
  static bool from_name(const std::string& name, ControlFile* file);

  // Renders `file` anew and returns its attributes (mode 0444, owned by the daemon's user).
  struct stat refresh(ControlFile file);
  // The attributes and bytes of the current snapshot (rendered first if there is none).
  struct stat attributes(ControlFile file);
  std::shared_ptr<const std::string> content(ControlFile file);

 private:
  struct Snapshot {
    std::string text;
    struct timespec time;
  };
  static struct stat attributes_of(const Snapshot& snapshot);
  std::string render(ControlFile file) const;
  std::string stats_json() const;
  // Prometheus text 0.0.4, or OpenMetrics 1.0 (`open_metrics`).
  std::string metrics(bool open_metrics) const;

  const Stats& stats_;
  ExtraSource extra_;
  std::mutex mutex_;
  std::shared_ptr<const Snapshot> snapshots_[std::size(kControlFiles)];
};

}  // namespace metafs::fs
