#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>

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

// Converts the sizes into `options`, each checked against its range. Returns why one is
// refused ("--cache-size 0: must be between 1M and 4T"), or "".
std::string apply_sizes(const SizeTexts& sizes, Options& options);

// What a tool does with CLI11's exception: --help and --version are printed (exit 0); an
// error is printed as "PROGRAM: why" and the exit status is kExitUsage.
int usage_exit(CLI::App& app, const CLI::ParseError& error, std::string_view program);

// Checks and completes what declare_shared_options() filled: the default --workers, a positive
// --extract-timeout, the workers' account. Returns why the options are refused, or "".
std::string validate_shared_options(Options& options);

}  // namespace metafs::fs
