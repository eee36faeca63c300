#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <stop_token>
#include <thread>
#include <utility>

namespace metafs::extraction {

// One background thread and its stop: started once, and stopped (asked, then joined) once, by
// stop() or the destructor, whichever comes first. The body gets the stop token; one that
// sleeps uses sleep_for(), one that waits on something else (a descriptor) is woken by its
// owner before stop(). fs/README.md lists every such thread, its owner and its stop order.
class BackgroundThread {
 public:
  BackgroundThread() = default;
  ~BackgroundThread() { stop(); }
  BackgroundThread(const BackgroundThread&) = delete;
  BackgroundThread& operator=(const BackgroundThread&) = delete;

  void start(std::function<void(std::stop_token)> body) { thread_ = std::jthread(std::move(body)); }
  bool running() const { return thread_.joinable(); }
  void stop() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    thread_.join();
  }

  // Waits `duration`, or less when stop is requested; false once it is.
  template <class Duration>
  static bool sleep_for(std::stop_token stop, Duration duration) {
    std::mutex mutex;
    std::condition_variable_any sleeper;
    std::unique_lock lock(mutex);
    sleeper.wait_for(lock, stop, duration, [] { return false; });
    return !stop.stop_requested();
  }

 private:
  std::jthread thread_;
};

}  // namespace metafs::extraction
