#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace metafs::fs::log {

// The "fs" logger (created on first use; sinks are set up by the session).
std::shared_ptr<spdlog::logger> fs();

}  // namespace metafs::fs::log
