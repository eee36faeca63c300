// The floor suite's harness: each program reads every FILE once (warm-up: page cache,
// library initialisation), then --repeat more times, and prints one JSON line with the CPU
// time per file. The programs use their library the minimal way to get the information
// metafs shows (see each file's header comment); tools/metafs-bench floor prints them beside
// metafs's in-process extraction and the Python libraries.
#pragma once

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace metafs::floor {

inline double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// argv: [--repeat N] FILE...; `read` returns false when the library refused the file (it is
// counted, and the run goes on). Returns the process exit status.
inline int run(const char* name, int argc, char** argv,
               const std::function<bool(const std::string&)>& read) {
  int repeat = 5;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
      repeat = std::atoi(argv[++i]);
    } else {
      files.emplace_back(argv[i]);
    }
  }
  if (files.empty() || repeat < 1) {
    std::fprintf(stderr, "usage: %s [--repeat N] FILE...\n", argv[0]);
    return 2;
  }
  std::size_t failed = 0;
  for (const auto& file : files) failed += read(file) ? 0 : 1;
  double start = cpu_seconds();
  for (int r = 0; r < repeat; ++r) {
    for (const auto& file : files) read(file);
  }
  double per_file = (cpu_seconds() - start) / (static_cast<double>(repeat) * files.size());
  std::printf(
      "{\"program\": \"%s\", \"files\": %zu, \"failed\": %zu, \"repeat\": %d, "
      "\"cpu_us_per_file\": %.1f}\n",
      name, files.size(), failed, repeat, per_file * 1e6);
  return 0;
}

}  // namespace metafs::floor
