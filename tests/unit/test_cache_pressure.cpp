#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "pressure_monitor.hpp"

namespace metafs::cache {
namespace {

using L = PressureLevel;

std::string psi(double some, double full) {
  return "some avg10=" + std::to_string(some) + " avg60=1.00 avg300=0.50 total=123456\n" +
         "full avg10=" + std::to_string(full) + " avg60=0.00 avg300=0.00 total=42\n";
}

std::string meminfo(std::uint64_t total_kb, std::uint64_t available_kb) {
  return "MemTotal:       " + std::to_string(total_kb) + " kB\nMemFree:          1000 kB\n" +
         "MemAvailable:   " + std::to_string(available_kb) + " kB\nBuffers:   10 kB\n";
}

TEST(CachePressure, ParsesPsiAndMeminfo) {
  auto sample = parse_psi(
      "some avg10=12.34 avg60=5.00 avg300=1.00 total=999\n"
      "full avg10=3.50 avg60=1.00 avg300=0.10 total=77\n");
  ASSERT_TRUE(sample);
  EXPECT_DOUBLE_EQ(sample->some_avg10, 12.34);
  EXPECT_DOUBLE_EQ(sample->full_avg10, 3.5);
  EXPECT_FALSE(parse_psi(""));
  EXPECT_FALSE(parse_psi("garbage\n"));
  EXPECT_FALSE(parse_psi("some avg10=nan avg60=0\n"));
  EXPECT_FALSE(parse_psi("some avg10=250.0\n"));
  // A file with only "some" (older kernels for cpu) still parses.
  EXPECT_DOUBLE_EQ(parse_psi("some avg10=1.00 avg60=0.00\n")->full_avg10, 0.0);
  auto mem = parse_meminfo(meminfo(16000000, 4000000));
  ASSERT_TRUE(mem);
  EXPECT_EQ(mem->total_kb, 16000000u);
  EXPECT_EQ(mem->available_kb, 4000000u);
  EXPECT_FALSE(parse_meminfo("MemTotal: 0 kB\nMemAvailable: 0 kB\n"));
  EXPECT_FALSE(parse_meminfo("MemTotal: 100 kB\n"));
}

TEST(CachePressure, PsiLevelsRiseAtOnceAndFallWithHysteresis) {
  EXPECT_EQ(compute_pressure_level(psi(0, 0), "", L::kNormal), L::kNormal);
  EXPECT_EQ(compute_pressure_level(psi(10, 0), "", L::kNormal), L::kElevated);
  EXPECT_EQ(compute_pressure_level(psi(0, 5), "", L::kNormal), L::kElevated);
  EXPECT_EQ(compute_pressure_level(psi(35, 0), "", L::kNormal), L::kHigh);
  EXPECT_EQ(compute_pressure_level(psi(20, 50), "", L::kNormal), L::kCritical);
  // Falling: kept while above half the entry threshold.
  EXPECT_EQ(compute_pressure_level(psi(8, 0), "", L::kElevated), L::kElevated);
  EXPECT_EQ(compute_pressure_level(psi(4.9, 0), "", L::kElevated), L::kNormal);
  EXPECT_EQ(compute_pressure_level(psi(20, 0), "", L::kHigh), L::kHigh);
  EXPECT_EQ(compute_pressure_level(psi(14, 0), "", L::kHigh), L::kElevated);
  EXPECT_EQ(compute_pressure_level(psi(0, 0), "", L::kCritical), L::kNormal);
  EXPECT_EQ(compute_pressure_level(psi(35, 0), "", L::kCritical), L::kCritical);
  EXPECT_EQ(compute_pressure_level(psi(29, 0), "", L::kCritical), L::kHigh);
  // A sequence around one threshold does not flap.
  L level = L::kNormal;
  int changes = 0;
  for (double some : {9.0, 10.5, 9.5, 10.2, 6.0, 11.0, 5.5, 9.9}) {
    L next = compute_pressure_level(psi(some, 0), "", level);
    changes += next != level ? 1 : 0;
    level = next;
  }
  EXPECT_EQ(level, L::kElevated);
  EXPECT_EQ(changes, 1);
}

TEST(CachePressure, MeminfoIsTheFallback) {
  EXPECT_EQ(compute_pressure_level("", meminfo(1000, 500), L::kNormal), L::kNormal);
  EXPECT_EQ(compute_pressure_level("", meminfo(1000, 150), L::kNormal), L::kElevated);
  EXPECT_EQ(compute_pressure_level("", meminfo(1000, 90), L::kNormal), L::kHigh);
  EXPECT_EQ(compute_pressure_level("", meminfo(1000, 40), L::kNormal), L::kCritical);
  EXPECT_EQ(compute_pressure_level("", meminfo(1000, 60), L::kCritical), L::kCritical);
  EXPECT_EQ(compute_pressure_level("", meminfo(1000, 80), L::kCritical), L::kHigh);
  EXPECT_EQ(compute_pressure_level("", meminfo(1000, 250), L::kElevated), L::kElevated);
  EXPECT_EQ(compute_pressure_level("", meminfo(1000, 310), L::kElevated), L::kNormal);
  // PSI wins when it parses; nothing parsable keeps the level.
  // PSI at 0 % says nothing has stalled yet, not that memory is left: 1 % available is
  // critical all the same.
  EXPECT_EQ(compute_pressure_level(psi(0, 0), meminfo(1000, 10), L::kNormal), L::kCritical);
  EXPECT_EQ(compute_pressure_level("junk", "junk", L::kHigh), L::kHigh);
}

TEST(CachePressure, EverySourceCountsAndTheTriggerNamesTheOneThatSetTheLevel) {
  using T = PressureTrigger;
  const std::string calm = psi(0, 0), plenty = meminfo(1000, 800);
  auto reading = [](const PressureTexts& texts, PressureReading previous = {}) {
    return compute_pressure(texts, previous);
  };
  PressureReading r = reading({calm, plenty, "", "", ""});
  EXPECT_EQ(r.level, L::kNormal);
  EXPECT_EQ(r.trigger, T::kNone);
  // The unit's MemoryHigh=: 960 of 1000 bytes used leaves 4 %, critical; memory.max alone
  // counts when memory.high is "max"; the lower of the two is the limit.
  r = reading({calm, plenty, "960\n", "1000\n", "max\n"});
  EXPECT_EQ(r.level, L::kCritical);
  EXPECT_EQ(r.trigger, T::kMemoryHigh);
  EXPECT_EQ(reading({calm, plenty, "850\n", "max\n", "1000\n"}).level, L::kElevated);
  EXPECT_EQ(reading({calm, plenty, "850\n", "900\n", "1000\n"}).level, L::kHigh);
  EXPECT_EQ(reading({calm, plenty, "850\n", "max\n", "max\n"}).level, L::kNormal);
  // Over the limit (memory.current may pass memory.high): critical, not a wrap-around.
  EXPECT_EQ(reading({calm, plenty, "1200\n", "1000\n", "max\n"}).level, L::kCritical);
  // MemAvailable low while PSI is calm.
  r = reading({calm, meminfo(1000, 80), "", "", ""});
  EXPECT_EQ(r.level, L::kHigh);
  EXPECT_EQ(r.trigger, T::kMemAvailable);
  // The highest level wins; PSI is named first on a tie.
  r = reading({psi(35, 0), meminfo(1000, 80), "", "", ""});
  EXPECT_EQ(r.level, L::kHigh);
  EXPECT_EQ(r.trigger, T::kPsi);
  // Falling: only once every source is past its exit threshold (here the cgroup keeps 12 %
  // left: below the 15 % that leaves high).
  r = reading({calm, plenty, "880\n", "1000\n", "max\n"}, {L::kCritical, T::kPsi});
  EXPECT_EQ(r.level, L::kHigh);
  EXPECT_EQ(r.trigger, T::kMemoryHigh);
  r = reading({calm, plenty, "500\n", "1000\n", "max\n"}, r);
  EXPECT_EQ(r.level, L::kNormal);
  EXPECT_EQ(r.trigger, T::kNone);
  // Nothing parses: unchanged.
  r = reading({"junk", "junk", "junk", "junk", "junk"}, {L::kHigh, T::kPsi});
  EXPECT_EQ(r.level, L::kHigh);
  EXPECT_EQ(r.trigger, T::kPsi);
  EXPECT_EQ(pressure_trigger_name(T::kMemoryHigh), "memory.high");
}

TEST(CachePressure, FindsTheCgroupOfTheProcess) {
  EXPECT_EQ(cgroup_dir_from("0::/system.slice/metafs@archive.service\n"),
            "/sys/fs/cgroup/system.slice/metafs@archive.service");
  EXPECT_EQ(cgroup_dir_from("12:memory:/x\n0::/user.slice\n"), "/sys/fs/cgroup/user.slice");
  EXPECT_EQ(cgroup_dir_from("0::/\n"), "");
  EXPECT_EQ(cgroup_dir_from("4:memory:/legacy\n"), "");
  EXPECT_EQ(cgroup_dir_from("0::/a/../../etc\n"), "");
}

TEST(CachePressure, MonitorReadsTheCgroupsFiles) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("metafs-cgroup-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "memory.pressure") << psi(0, 0);
  std::ofstream(dir / "memory.current") << "100\n";
  std::ofstream(dir / "memory.high") << "1000\n";
  std::ofstream(dir / "memory.max") << "max\n";
  std::ofstream(dir / "meminfo") << meminfo(1000, 900);
  PressureMonitorOptions options;
  options.cgroup_dir = dir;
  options.meminfo_path = dir / "meminfo";
  ASSERT_EQ(unsetenv("MEMORY_PRESSURE_WATCH"), 0);
  PressureMonitor monitor(options);
  // Without systemd's variable, the cgroup's own PSI file.
  EXPECT_EQ(monitor.psi_path(), dir / "memory.pressure");
  EXPECT_EQ(monitor.poll_once(), L::kNormal);
  EXPECT_EQ(monitor.trigger(), PressureTrigger::kNone);
  std::ofstream(dir / "memory.current") << "960\n";
  EXPECT_EQ(monitor.poll_once(), L::kCritical);
  EXPECT_EQ(monitor.trigger(), PressureTrigger::kMemoryHigh);
  std::filesystem::remove_all(dir);
}

TEST(CachePressure, MonitorReadsTheWatchFileNotifiesAndStopsPromptly) {
  std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("metafs-psi-" + std::to_string(getpid()));
  std::ofstream(file) << psi(0, 0);
  ASSERT_EQ(setenv("MEMORY_PRESSURE_WATCH", file.c_str(), 1), 0);
  std::filesystem::path plenty = file.string() + ".meminfo";
  std::ofstream(plenty) << meminfo(1000, 900);
  PressureMonitorOptions options;
  options.interval = std::chrono::milliseconds(20);
  options.cgroup_dir = "";  // only the files given here
  options.meminfo_path = plenty;
  PressureMonitor monitor(options);
  unsetenv("MEMORY_PRESSURE_WATCH");
  EXPECT_EQ(monitor.psi_path(), file);
  std::atomic<int> calls{0};
  std::atomic<L> seen{L::kNormal};
  monitor.subscribe([&](L level) {
    seen = level;
    ++calls;
  });
  monitor.start();
  std::ofstream(file) << psi(70, 0);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (seen != L::kCritical && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(seen, L::kCritical);
  EXPECT_EQ(monitor.level(), L::kCritical);
  std::ofstream(file) << psi(0, 0);
  while (seen != L::kNormal && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(seen, L::kNormal);
  EXPECT_EQ(calls, 2);

  PressureMonitorOptions slow;
  slow.psi_path = file;
  slow.interval = std::chrono::seconds(30);
  PressureMonitor idle(slow);
  idle.start();
  auto start = std::chrono::steady_clock::now();
  idle.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  std::filesystem::remove(file);
  std::filesystem::remove(plenty);
}

}  // namespace
}  // namespace metafs::cache
