#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace metafs::cache {

// The module's spdlog logger "cache": the one registered under that name, or a new stderr
// logger. Never throws.
spdlog::logger& cache_log();

}  // namespace metafs::cache
