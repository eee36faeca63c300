#include "cache_log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace metafs::cache {

spdlog::logger& cache_log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("cache")) return existing;
    try {
      return spdlog::stderr_color_mt("cache");
    } catch (const spdlog::spdlog_ex&) {
      // Registered by another thread in between.
      if (auto existing = spdlog::get("cache")) return existing;
      return std::make_shared<spdlog::logger>("cache");
    }
  }();
  return *logger;
}

}  // namespace metafs::cache
