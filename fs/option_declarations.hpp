#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "options.hpp"

namespace metafs::fs {

// The sizes as typed ("1G"), converted by the tool that parses them.
struct SizeTexts {
  std::string cache_size = "1G";
  std::string memory_limit = "128M";
  std::string worker_memory = "1G";
};

// Declares the options metafs and metafs-index share (cache, memory, extraction, logging),
// once, so that the two parse them alike and metafs-index fills the cache a mount looks in.
void declare_shared_options(CLI::App& app, Options& options, SizeTexts& sizes);

// Checks and completes what declare_shared_options() filled: the default --workers, a positive
// --extract-timeout, the workers' account. Returns why the options are refused, or "".
std::string validate_shared_options(Options& options);

}  // namespace metafs::fs
