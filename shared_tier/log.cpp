#include "shared_tier/log.hpp"

#include <atomic>

namespace metafs::shared_tier {
namespace {

std::atomic<std::shared_ptr<spdlog::logger>>& installed() {
  static std::atomic<std::shared_ptr<spdlog::logger>> logger;
  return logger;
}

}  // namespace

void set_logger(std::shared_ptr<spdlog::logger> logger) {
  installed().store(std::move(logger));
}

std::shared_ptr<spdlog::logger> log() {
  if (auto logger = installed().load()) return logger;
  return spdlog::default_logger();
}

}  // namespace metafs::shared_tier
