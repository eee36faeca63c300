#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include "pressure_level.hpp"

namespace metafs::cache {

struct PressureMonitorOptions {
  // The daemon's cgroup (v2) directory, whose memory.current against memory.high/memory.max
  // is one source of pressure; std::nullopt: found from /proc/self/cgroup (none at the root
  // cgroup); an empty path: none.
  std::optional<std::filesystem::path> cgroup_dir;
  // The PSI file; empty: $MEMORY_PRESSURE_WATCH when set (systemd 254's MemoryPressureWatch=),
  // else the cgroup's memory.pressure when there is one, else /proc/pressure/memory.
  // "/dev/null" (systemd: watching disabled) means no PSI.
  std::filesystem::path psi_path;
  std::filesystem::path meminfo_path = "/proc/meminfo";
  std::chrono::milliseconds interval{1000};
};

// /sys/fs/cgroup/<path> from a /proc/self/cgroup text ("0::/system.slice/x.service");
// empty at the root cgroup or without a v2 line.
std::filesystem::path cgroup_dir_from(std::string_view proc_self_cgroup);

// Samples memory pressure on a background thread (start()) and tells subscribers when the
// level changes. Callbacks run on the monitor's thread (or the caller of poll_once()), must
// not block for long and must not call back into the monitor's subscribe/unsubscribe.
class PressureMonitor {
 public:
  using Callback = std::function<void(PressureLevel)>;

  explicit PressureMonitor(PressureMonitorOptions options = {});
  // Stops the thread (within one wake-up, not one interval).
  ~PressureMonitor();
  PressureMonitor(const PressureMonitor&) = delete;
  PressureMonitor& operator=(const PressureMonitor&) = delete;

  void start();
  void stop();

  PressureLevel level() const { return level_.load(); }
  // The source that set level() ("none" at normal).
  PressureTrigger trigger() const { return trigger_.load(); }
  const std::filesystem::path& psi_path() const { return options_.psi_path; }
  const std::filesystem::path& cgroup_dir() const { return *options_.cgroup_dir; }

  // Returns an id for unsubscribe().
  std::uint64_t subscribe(Callback callback);
  void unsubscribe(std::uint64_t id);

  // Reads the files once, updates the level and notifies on a change; returns the level.
  PressureLevel poll_once();
  // Sets the level as if sampled (tests, an fs control file); notifies on a change.
  void set_level(PressureLevel level);

 private:
  void run();
  // Precondition: poll_mutex_ held.
  void update_locked(PressureReading next);

  PressureMonitorOptions options_;
  std::atomic<PressureLevel> level_{PressureLevel::kNormal};
  std::atomic<PressureTrigger> trigger_{PressureTrigger::kNone};
  std::mutex poll_mutex_;  // serialises poll_once/set_level; taken before mutex_
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::map<std::uint64_t, Callback> subscribers_;
  std::uint64_t next_id_ = 1;
  std::thread thread_;
};

}  // namespace metafs::cache
