// Memory pressure end to end: a bounded memory hog drives the machine's MemAvailable below
// 8 % of MemTotal while a mount holds decoded trees in memory. stats.json must show the
// level rise (high or critical, trigger MemAvailable) with the memory cache shrunk, then
// return to normal once the hog is gone. Prints memory over time.
//
// The machine is shared: the hog is sized from /proc/meminfo as it goes, leaves at least
// 6.5 % of MemTotal available, holds for a few seconds, has oom_score_adj 1000 (the OOM
// killer's first choice), dies with the test process, and is always killed by the test.
// Clean page cache is dropped (as root) whenever free memory runs out: reclaiming it page by
// page under the hog stalls the whole machine for half a minute, where a drop frees it at
// once (it is what reclaim would take anyway).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "corpus.hpp"
#include "mount_runner.hpp"

namespace fs = std::filesystem;
using metafs::test::corpus_files;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::TempDir;

namespace {

constexpr double kHogStopsBelow = 0.075;  // of MemTotal available: the hog has enough
constexpr double kHogLeavesAtLeast = 0.065;
constexpr std::size_t kChunk = 64ull << 20;

struct MemInfo {
  unsigned long long total_kb = 0;
  unsigned long long available_kb = 0;
  unsigned long long free_kb = 0;
};

unsigned long long field_kb(const char* text, const char* name) {
  const char* at = std::strstr(text, name);
  return at ? std::strtoull(at + std::strlen(name), nullptr, 10) : 0;
}

void drop_page_cache() {
  if (::geteuid() != 0) return;
  int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) {
    (void)!::write(fd, "1", 1);
    ::close(fd);
  }
}

// Async-signal-safe enough for a forked child: no allocation.
MemInfo read_meminfo() {
  char buffer[8192];
  int fd = ::open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return {};
  buffer[n] = '\0';
  return {field_kb(buffer, "MemTotal:"), field_kb(buffer, "MemAvailable:"),
          field_kb(buffer, "MemFree:")};
}

// The hog: allocates and touches memory in chunks until MemAvailable is below
// kHogStopsBelow of MemTotal (never taking it below kHogLeavesAtLeast), writes the MiB it
// holds to `ready_fd`, and waits to be killed.
[[noreturn]] void run_hog(int ready_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::alarm(120);  // whatever happens to the test
  int adj = ::open("/proc/self/oom_score_adj", O_WRONLY);
  if (adj >= 0) {
    (void)!::write(adj, "1000", 4);
    ::close(adj);
  }
  unsigned long long held = 0;
  for (;;) {
    MemInfo m = read_meminfo();
    if (m.total_kb == 0) break;
    if (m.available_kb < m.total_kb * kHogStopsBelow) break;
    unsigned long long floor_kb = m.total_kb * kHogLeavesAtLeast;
    if (m.available_kb <= floor_kb) break;
    std::size_t bytes = std::min<unsigned long long>(kChunk, (m.available_kb - floor_kb) * 1024);
    if (bytes < (1u << 20)) break;
    if (m.free_kb * 1024 < 2 * kChunk) drop_page_cache();
    // MAP_POPULATE: the kernel fills the chunk at once. Touching it a page at a time took
    // this VM a minute for 20 GiB, as long as the test waits for the hog.
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) break;
    for (std::size_t at = 0; at < bytes; at += 4096) static_cast<volatile char*>(p)[at] = 1;
    held += bytes;
  }
  char line[32];
  int len = std::snprintf(line, sizeof line, "%llu\n", held >> 20);
  (void)!::write(ready_fd, line, len);
  for (;;) ::pause();
}

// The hog process; killed and reaped on destruction, also when the test failed.
class Hog {
 public:
  Hog() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      run_hog(fds[1]);
    }
    ::close(fds[1]);
    ready_fd_ = fds[0];
    ::fcntl(ready_fd_, F_SETFL, O_NONBLOCK);
  }
  ~Hog() {
    stop();
    if (ready_fd_ >= 0) ::close(ready_fd_);
  }
  Hog(const Hog&) = delete;
  Hog& operator=(const Hog&) = delete;

  bool started() const { return pid_ > 0; }
  // The MiB it holds once it has allocated all it will, else -1.
  long long held_mib() {
    char buffer[32];
    ssize_t n = ::read(ready_fd_, buffer, sizeof buffer - 1);
    if (n > 0) {
      buffer[n] = '\0';
      held_mib_ = std::atoll(buffer);
    }
    return held_mib_;
  }
  // Returns the hog's wait status, or -1 when it was not running.
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_ = -1;
  int ready_fd_ = -1;
  long long held_mib_ = -1;
};

struct Row {
  double seconds;
  std::string phase;
  MemInfo mem;
  std::string level;
  std::string trigger;
  std::uint64_t used;
  std::uint64_t budget;
};

int rank(const std::string& level) {
  if (level == "elevated") return 1;
  if (level == "high") return 2;
  if (level == "critical") return 3;
  return 0;
}

TEST(MemoryPressure, LowMemAvailableShrinksTheMemoryCacheAndNormalReturnsAfter) {
  MemInfo at_start = read_meminfo();
  ASSERT_GT(at_start.total_kb, 0u);
  ASSERT_GT(at_start.available_kb, at_start.total_kb * 0.3)
      << "the machine is already short of memory; a hog would take it too far";

  TempDir tmp;
  const fs::path src = tmp.path() / "src";
  // Many small trees: copies of the corpus's well-formed files (hard links where possible).
  std::vector<fs::path> originals;
  for (const char* format : {"dicom", "fits", "hdf5", "netcdf"}) {
    for (const auto& file : corpus_files(format)) originals.push_back(file);
  }
  ASSERT_FALSE(originals.empty());
  constexpr int kCopies = 12;
  for (int copy = 0; copy < kCopies; ++copy) {
    fs::path dir = src / ("copy" + std::to_string(copy));
    fs::create_directories(dir);
    for (const auto& file : originals) {
      std::error_code ec;
      fs::create_hard_link(file, dir / file.filename(), ec);
      if (ec) fs::copy_file(file, dir / file.filename());
    }
  }
  MountRunner mount(src, {"--memory-limit", "32M", "--cache-dir", (tmp.path() / "cache").string()});
  ASSERT_TRUE(mount.mounted()) << mount.log();

  auto start = std::chrono::steady_clock::now();
  std::vector<Row> rows;
  auto sample = [&](const std::string& phase) {
    nlohmann::json stats = metafs::test::stats_of(mount);
    rows.push_back({std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                    phase, read_meminfo(), stats.value("memory_pressure", "?"),
                    stats.value("memory_pressure_trigger", "?"),
                    stats.value("memory_bytes_used", std::uint64_t{0}),
                    stats.value("memory_bytes_budget", std::uint64_t{0})});
    return rows.back();
  };
  auto print_table = [&] {
    std::cout << "    t/s  phase      MemAvailable/MiB   %   level     trigger        "
                 "memory used/KiB  budget/KiB\n";
    // Every change of level, trigger or memory, and one row in eight besides.
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      bool changed = i == 0 || i + 1 == rows.size() || r.phase != rows[i - 1].phase ||
                     r.level != rows[i - 1].level || r.trigger != rows[i - 1].trigger ||
                     r.used != rows[i - 1].used || r.budget != rows[i - 1].budget;
      if (!changed && i % 8 != 0) continue;
      std::printf("  %5.1f  %-9s  %16llu  %4.1f  %-8s  %-13s  %15llu  %10llu\n", r.seconds,
                  r.phase.c_str(), r.mem.available_kb / 1024,
                  100.0 * static_cast<double>(r.mem.available_kb) /
                      static_cast<double>(r.mem.total_kb ? r.mem.total_kb : 1),
                  r.level.c_str(), r.trigger.c_str(), static_cast<unsigned long long>(r.used >> 10),
                  static_cast<unsigned long long>(r.budget >> 10));
    }
    std::fflush(stdout);
  };

  // Fill the memory cache: every file's metadata, read once.
  for (const auto& entry : fs::recursive_directory_iterator(mount.mountpoint())) {
    if (entry.path().filename() == "metadata.json") (void)read_file(entry.path());
  }
  Row before = sample("before");
  ASSERT_EQ(before.level, "normal") << "pressure before the hog; cannot test";
  // At high the budget is a quarter: there must be more than that to give back.
  ASSERT_GT(before.used, before.budget / 4 + (256u << 10))
      << "too little in memory to see it shrink: " << before.used << " of " << before.budget;

  bool seen_high = false;
  bool seen_memavailable = false;
  Row at_pressure{};
  {
    Hog hog;
    ASSERT_TRUE(hog.started());
    // The hog ends itself after 120 s (alarm); it holds well before.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(100);
    long long held = -1;
    while (std::chrono::steady_clock::now() < deadline) {
      held = hog.held_mib();
      Row r = sample(held < 0 ? "hogging" : "holding");
      seen_memavailable = seen_memavailable || r.trigger == "MemAvailable";
      // PSI outranks MemAvailable as the trigger when both give the level (the machine may
      // stall while the hog takes its memory); the level must still come with MemAvailable
      // below the high threshold (10 %).
      bool high_by_memavailable = r.trigger == "MemAvailable" ||
                                  (r.trigger == "psi" && r.mem.available_kb < r.mem.total_kb / 10);
      if (rank(r.level) >= 2 && high_by_memavailable && !seen_high) {
        seen_high = true;
        at_pressure = r;
        deadline = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(3));
      } else if (seen_high && rank(r.level) >= 2 && r.used < at_pressure.used) {
        at_pressure = r;
      }
      if (held >= 0 && !seen_high) {
        // Allocated all it will: give the daemon's 1 s poll time to see it, then stop.
        deadline = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(4));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    std::cout << "hog held " << held << " MiB\n";
    hog.stop();
  }
  bool back_to_normal = false;
  // PSI's avg10 decays over tens of seconds when the machine stalled.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(45);
  while (std::chrono::steady_clock::now() < deadline) {
    if (sample("after").level == "normal") {
      back_to_normal = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  Row after = rows.back();
  print_table();

  EXPECT_TRUE(seen_high) << "the level never reached high with MemAvailable below 10 %";
  EXPECT_TRUE(seen_memavailable) << "MemAvailable was never the trigger";
  if (seen_high) {
    EXPECT_LT(at_pressure.used, before.used);
    EXPECT_LE(at_pressure.budget, before.budget / 4);
    EXPECT_LE(at_pressure.used, at_pressure.budget);
  }
  EXPECT_TRUE(back_to_normal);
  EXPECT_EQ(after.trigger, "none");
  EXPECT_EQ(after.budget, before.budget);
  std::string log = mount.log();
  EXPECT_NE(log.find("memory pressure normal -> "), std::string::npos) << log;
  EXPECT_NE(log.find("(MemAvailable)"), std::string::npos) << log;
}

}  // namespace
