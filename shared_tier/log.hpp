#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace metafs::shared_tier {

// The logging seam: the module logs through the logger its user hands it (the daemon hands its
// own, so these lines read as they always did), else through spdlog's default logger.
void set_logger(std::shared_ptr<spdlog::logger> logger);
std::shared_ptr<spdlog::logger> log();

}  // namespace metafs::shared_tier
