#include "log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace metafs::fs::log {

std::shared_ptr<spdlog::logger> fs() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("fs")) return existing;
    auto created = spdlog::stderr_color_mt("fs");
    return created;
  }();
  return logger;
}

}  // namespace metafs::fs::log
