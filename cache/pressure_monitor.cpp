#include "pressure_monitor.hpp"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "cache_log.hpp"

namespace metafs::cache {
namespace {

// The first 4 KiB of a small /proc-like file; "" when unreadable.
std::string read_small_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::string text(4096, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

}  // namespace

std::filesystem::path cgroup_dir_from(std::string_view text) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (!line.starts_with("0::/")) continue;
    std::string_view path = line.substr(4);
    if (path.empty() || path.find("..") != std::string_view::npos) return {};
    return std::filesystem::path("/sys/fs/cgroup") / path;
  }
  return {};
}

PressureMonitor::PressureMonitor(PressureMonitorOptions options) : options_(std::move(options)) {
  if (!options_.cgroup_dir)
    options_.cgroup_dir = cgroup_dir_from(read_small_file("/proc/self/cgroup"));
  if (options_.psi_path.empty()) {
    const char* watch = std::getenv("MEMORY_PRESSURE_WATCH");
    if (watch != nullptr && *watch != '\0') {
      options_.psi_path = watch;
    } else if (!options_.cgroup_dir->empty() &&
               !read_small_file(*options_.cgroup_dir / "memory.pressure").empty()) {
      options_.psi_path = *options_.cgroup_dir / "memory.pressure";
    } else {
      options_.psi_path = "/proc/pressure/memory";
    }
  }
}

PressureMonitor::~PressureMonitor() {
  stop();
}

void PressureMonitor::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void PressureMonitor::stop() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

std::uint64_t PressureMonitor::subscribe(Callback callback) {
  std::lock_guard lock(mutex_);
  std::uint64_t id = next_id_++;
  subscribers_.emplace(id, std::move(callback));
  return id;
}

void PressureMonitor::unsubscribe(std::uint64_t id) {
  std::lock_guard poll(poll_mutex_);  // not while a notification is running
  std::lock_guard lock(mutex_);
  subscribers_.erase(id);
}

PressureLevel PressureMonitor::poll_once() {
  std::string psi;
  if (options_.psi_path != "/dev/null") psi = read_small_file(options_.psi_path);
  std::string meminfo = read_small_file(options_.meminfo_path);
  std::string current, high, max;
  if (const auto& dir = *options_.cgroup_dir; !dir.empty()) {
    current = read_small_file(dir / "memory.current");
    high = read_small_file(dir / "memory.high");
    max = read_small_file(dir / "memory.max");
  }
  std::lock_guard poll(poll_mutex_);
  PressureReading next =
      compute_pressure({psi, meminfo, current, high, max}, {level_.load(), trigger_.load()});
  update_locked(next);
  return next.level;
}

void PressureMonitor::set_level(PressureLevel level) {
  std::lock_guard poll(poll_mutex_);
  update_locked({level, PressureTrigger::kNone});
}

void PressureMonitor::update_locked(PressureReading next) {
  trigger_.store(next.trigger);
  PressureLevel previous = level_.exchange(next.level);
  if (next.level == previous) return;
  cache_log().info("memory pressure {} -> {} ({})", pressure_level_name(previous),
                   pressure_level_name(next.level), pressure_trigger_name(next.trigger));
  std::vector<Callback> callbacks;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, callback] : subscribers_) callbacks.push_back(callback);
  }
  for (const auto& callback : callbacks) callback(next.level);
}

void PressureMonitor::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    poll_once();
    lock.lock();
    wake_.wait_for(lock, options_.interval, [this] { return stop_; });
  }
}

}  // namespace metafs::cache
