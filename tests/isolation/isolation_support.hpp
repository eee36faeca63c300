#pragma once

// Helpers for the isolation tests; header-only because each test is one source file.
#include <sys/stat.h>
#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace metafs::test {

// The children of process `pid` (all its threads'), from /proc.
inline std::vector<pid_t> child_pids(pid_t pid) {
  std::vector<pid_t> pids;
  std::error_code ec;
  auto task_dir = std::filesystem::path("/proc") / std::to_string(pid) / "task";
  for (const auto& task : std::filesystem::directory_iterator(task_dir, ec)) {
    std::ifstream in(task.path() / "children");
    pid_t child;
    while (in >> child) pids.push_back(child);
  }
  return pids;
}

// A line of /proc/<pid>/status, e.g. status_field(pid, "Seccomp") -> "2" ("" when missing).
inline std::string status_field(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      std::string value = line.substr(name.size() + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      return value;
    }
  }
  return "";
}

// Resident set size of `pid` in KiB (0 when unknown).
inline long rss_kib(pid_t pid) {
  std::string value = status_field(pid, "VmRSS");
  return value.empty() ? 0 : std::stol(value);
}

// What the mount shows for the data file at `path`, in one string: "error: <line>" when it has
// an error file, "meta" when its metadata.json reads as a JSON object, "file" when the file is
// passed through, "ERRNO <n>" when the mount failed. *seconds gets the time taken.
inline std::string probe(const std::filesystem::path& path, double* seconds) {
  auto start = std::chrono::steady_clock::now();
  std::string result;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    result = "ERRNO " + std::to_string(errno);
  } else if (S_ISREG(st.st_mode)) {
    result = "file";
  } else {
    std::ifstream error(path / "error");
    std::string line;
    if (error && std::getline(error, line)) {
      result = "error: " + line;
    } else {
      std::ifstream json(path / "metadata.json");
      std::stringstream ss;
      ss << json.rdbuf();
      bool ok = json && !ss.str().empty() && ss.str()[0] == '{';
      result = ok ? "meta" : "ERRNO " + std::to_string(errno);
    }
  }
  *seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace metafs::test
