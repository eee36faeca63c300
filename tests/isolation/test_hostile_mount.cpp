// Hostile files through a real mount with sandboxed workers: the daemon survives everything,
// every file answers with metadata or an error, nothing takes longer than the deadline.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "corpus.hpp"
#include "isolation_support.hpp"
#include "mount_runner.hpp"

namespace fs = std::filesystem;
using metafs::test::child_pids;
using metafs::test::corpus_dir;
using metafs::test::corpus_files;
using metafs::test::MountRunner;
using metafs::test::probe;
using metafs::test::TempDir;
using metafs::test::write_file;

namespace {

constexpr double kDeadline = 2;  // --extract-timeout of these mounts
constexpr double kMargin = 3;    // worker respawn, FUSE round trips, a loaded 2-core machine
constexpr int kMutations = 2400;
constexpr std::uint32_t kSeed = 20261122;

struct Answer {
  std::string name;
  std::string result;
  double seconds = 0;
};

// Probes every entry of `dir` (in the mount) with two threads, like two users.
std::vector<Answer> probe_all(const fs::path& dir, const std::vector<std::string>& names) {
  std::vector<Answer> answers(names.size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i; (i = next++) < names.size();) {
      answers[i].name = names[i];
      answers[i].result = probe(dir / names[i], &answers[i].seconds);
    }
  };
  std::thread other(work);
  work();
  other.join();
  return answers;
}

struct Summary {
  std::map<std::string, int> kinds;  // meta, error, file, crashed, timed out, out of memory
  Answer slowest;
};

Summary summarise(const std::vector<Answer>& answers) {
  Summary s;
  for (const auto& a : answers) {
    std::string kind = a.result.rfind("error: ", 0) == 0 ? "error" : a.result;
    ++s.kinds[kind];
    if (a.result.find("extractor crashed") != std::string::npos) ++s.kinds["crashed"];
    if (a.result.find("timed out") != std::string::npos) ++s.kinds["timed out"];
    if (a.result.find("ran out of memory") != std::string::npos) ++s.kinds["out of memory"];
    if (a.seconds > s.slowest.seconds) s.slowest = a;
  }
  return s;
}

void expect_daemon_healthy(MountRunner& mount, pid_t pid) {
  EXPECT_TRUE(mount.alive()) << mount.log();
  EXPECT_EQ(mount.pid(), pid);
  struct stat st {};
  EXPECT_EQ(::stat(mount.mountpoint().c_str(), &st), 0) << "errno " << errno;  // no ENOTCONN
}

// A corpus file changed at random, seeded: cut short, bits flipped, or 32-bit fields in the
// header set to huge values.
std::string mutate(const std::string& original, int kind, std::mt19937& rng) {
  std::string bytes = original;
  auto below = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n == 0 ? 0 : n - 1)(rng);
  };
  switch (kind) {
    case 0:
      bytes.resize(below(bytes.size()));
      break;
    case 1: {
      int flips = 1 + static_cast<int>(below(8));
      for (int i = 0; i < flips && !bytes.empty(); ++i) {
        std::size_t span = below(4) == 0 ? bytes.size() : std::min<std::size_t>(bytes.size(), 4096);
        bytes[below(span)] ^= static_cast<char>(1u << below(8));
      }
      break;
    }
    default: {
      static constexpr std::uint32_t kHuge[] = {0xffffffffu, 0x7fffffffu, 0x80000000u,
                                                0x40000000u, 0xfffffffeu, 0x00ffffffu};
      int fields = 1 + static_cast<int>(below(3));
      for (int i = 0; i < fields && bytes.size() >= 8; ++i) {
        std::size_t at = below(std::min<std::size_t>(bytes.size(), 2048) / 4) * 4;
        if (at + 4 > bytes.size()) continue;
        std::uint32_t v = kHuge[below(std::size(kHuge))];
        bool big_endian = below(2) == 0;
        for (int b = 0; b < 4; ++b) {
          int shift = big_endian ? 24 - 8 * b : 8 * b;
          bytes[at + b] = static_cast<char>((v >> shift) & 0xff);
        }
      }
      break;
    }
  }
  return bytes;
}

TEST(HostileMount, EveryMalformedCorpusFileAnswers) {
  fs::path source = corpus_dir() / "malformed";
  MountRunner mount(source, {"--no-cache", "--extract-timeout", "2", "--workers", "2"});
  ASSERT_TRUE(mount.mounted());
  pid_t pid = mount.pid();
  std::vector<std::string> names;
  for (const auto& file : corpus_files("malformed")) names.push_back(file.filename().string());
  ASSERT_GE(names.size(), 15u);
  auto answers = probe_all(mount.mountpoint(), names);
  std::map<std::string, std::string> by_name;
  for (const auto& a : answers) {
    by_name[a.name] = a.result;
    EXPECT_EQ(a.result.rfind("ERRNO", 0), std::string::npos) << a.name << ": " << a.result;
    EXPECT_LT(a.seconds, kDeadline + kMargin) << a.name;
  }
  // Crash the HDF5 library (and h5dump) in process; here they are one file's error.
  EXPECT_EQ(by_name["cve-2018-16438.h5"], "error: extractor crashed: SIGSEGV");
  EXPECT_EQ(by_name["cve-2021-46244.h5"], "error: extractor crashed: SIGFPE");
  // Hangs h5dump: answers here, metadata or error.
  EXPECT_TRUE(by_name["cve-2018-15671.h5"] == "meta" ||
              by_name["cve-2018-15671.h5"].rfind("error: ", 0) == 0);
  EXPECT_EQ(by_name["bad_nvars.nc1"], "error: corrupt classic header: negative variable count");
  EXPECT_EQ(by_name["CR-MONO1-10-chest"], "meta");
  expect_daemon_healthy(mount, pid);
  Summary s = summarise(answers);
  std::cout << "malformed: " << answers.size() << " files, " << s.kinds["meta"] << " metadata, "
            << s.kinds["error"] << " errors (" << s.kinds["crashed"] << " crashes, "
            << s.kinds["timed out"] << " timeouts), " << s.kinds["file"]
            << " passed through; slowest " << s.slowest.name << " " << s.slowest.seconds << " s\n";
}

TEST(HostileMount, ThousandSeededMutations) {
  TempDir tmp;
  fs::path source = tmp.path() / "src";
  fs::create_directory(source);
  std::vector<fs::path> bases;
  for (const char* sub : {"dicom", "fits", "hdf5", "netcdf"}) {
    for (const auto& file : corpus_files(sub)) {
      if (fs::file_size(file) <= 64 * 1024) bases.push_back(file);
    }
  }
  ASSERT_GE(bases.size(), 30u);
  std::mt19937 rng(kSeed);
  std::vector<std::string> names;
  for (int i = 0; i < kMutations; ++i) {
    const fs::path& base = bases[static_cast<std::size_t>(i) % bases.size()];
    int kind = (i / static_cast<int>(bases.size())) % 3;
    static constexpr const char* kKinds[] = {"cut", "flip", "huge"};
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "m%04d-%s-", i, kKinds[kind]);
    std::string name = prefix + base.filename().string();
    write_file(source / name, mutate(metafs::test::read_file(base), kind, rng));
    names.push_back(name);
  }
  MountRunner mount(source, {"--no-cache", "--extract-timeout", "2", "--workers", "2"});
  ASSERT_TRUE(mount.mounted());
  pid_t pid = mount.pid();
  auto start = std::chrono::steady_clock::now();
  auto answers = probe_all(mount.mountpoint(), names);
  double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  int bad = 0;
  for (const auto& a : answers) {
    if (a.result.rfind("ERRNO", 0) == 0 || a.seconds >= kDeadline + kMargin) {
      if (++bad <= 20) ADD_FAILURE() << a.name << ": " << a.result << " in " << a.seconds << " s";
    }
  }
  EXPECT_EQ(bad, 0);
  expect_daemon_healthy(mount, pid);
  Summary s = summarise(answers);
  std::cout << "mutations: " << answers.size() << " files (seed " << kSeed << ") in " << total
            << " s: " << s.kinds["meta"] << " metadata, " << s.kinds["error"] << " errors ("
            << s.kinds["crashed"] << " crashes, " << s.kinds["timed out"] << " timeouts, "
            << s.kinds["out of memory"] << " out of memory), " << s.kinds["file"]
            << " no longer recognised; slowest " << s.slowest.name << " (" << s.slowest.result
            << ") " << s.slowest.seconds << " s\n";
  ::testing::Test::RecordProperty("mutations", static_cast<int>(answers.size()));
  ::testing::Test::RecordProperty("crashes", s.kinds["crashed"]);
  ::testing::Test::RecordProperty("timeouts", s.kinds["timed out"]);
}

TEST(HostileMount, WorkerKilledFromOutsideCostsOnlyThatRequest) {
  TempDir tmp;
  fs::path source = tmp.path() / "src";
  fs::create_directory(source);
  fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", source / "slow-poison.fits");
  fs::copy_file(corpus_dir() / "hdf5" / "tall.h5", source / "tall.h5");
  fs::copy_file(corpus_dir() / "netcdf" / "ref_nctest_classic.nc", source / "classic.nc");
  ::setenv("METAFS_WORKER_TEST_FAULT", "hang:poison", 1);
  MountRunner mount(source, {"--no-cache", "--extract-timeout", "20", "--workers", "1"});
  ::unsetenv("METAFS_WORKER_TEST_FAULT");
  ASSERT_TRUE(mount.mounted());
  pid_t pid = mount.pid();

  double seconds = 0;
  std::string result;
  std::thread reader([&] { result = probe(mount.mountpoint() / "slow-poison.fits", &seconds); });
  // Wait until the one worker is busy with the request (sleeping in the injected hang).
  std::vector<pid_t> workers;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    workers = child_pids(pid);
    if (workers.size() == 1 && metafs::test::status_field(workers[0], "State")[0] == 'S' &&
        metafs::test::status_field(workers[0], "Seccomp") == "2") {
      break;
    }
    ::usleep(20000);
  }
  ASSERT_EQ(workers.size(), 1u);
  ::usleep(300000);  // the request is in flight
  ASSERT_EQ(::kill(workers[0], SIGKILL), 0);
  reader.join();
  EXPECT_EQ(result, "error: extractor crashed: SIGKILL");
  EXPECT_LT(seconds, 5.0) << "the deadline is 20 s: the kill, not the deadline, ended it";

  EXPECT_EQ(probe(mount.mountpoint() / "tall.h5", &seconds), "meta");
  EXPECT_EQ(probe(mount.mountpoint() / "classic.nc", &seconds), "meta");
  EXPECT_EQ(metafs::test::read_file(mount.mountpoint() / "tall.h5" / "format"), "hdf5\n");
  expect_daemon_healthy(mount, pid);
  auto now = child_pids(pid);
  ASSERT_EQ(now.size(), 1u);
  EXPECT_NE(now[0], workers[0]);
}

// A netCDF classic file whose one global attribute claims 900 MiB. The file is sparse, so the
// header check lets it through and netCDF-C allocates and reads all of it: in process that is
// ~900 MiB of RSS (measured: metafs-extract peaks at 940 MB). In a worker limited to 256 MiB
// the allocation fails; the daemon does not grow.
TEST(HostileMount, AllocationBombLeavesTheDaemonFlat) {
  TempDir tmp;
  fs::path source = tmp.path() / "src";
  fs::create_directory(source);
  constexpr std::uint32_t kClaimed = 900u << 20;
  auto be32 = [](std::uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
    return s;
  };
  std::string header = std::string("CDF\x01", 4) + be32(0) + be32(0) + be32(0) + be32(0x0c) +
                       be32(1) + be32(1) + std::string("a\0\0\0", 4) + be32(2) + be32(kClaimed);
  write_file(source / "bomb.nc", header);
  fs::resize_file(source / "bomb.nc", header.size() + kClaimed + 8);  // sparse
  fs::copy_file(corpus_dir() / "hdf5" / "tall.h5", source / "tall.h5");

  MountRunner mount(source, {"--no-cache", "--extract-timeout", "10", "--workers", "1",
                             "--worker-memory", "256M"});
  ASSERT_TRUE(mount.mounted());
  pid_t pid = mount.pid();
  double seconds = 0;
  ASSERT_EQ(probe(mount.mountpoint() / "tall.h5", &seconds), "meta");  // warm
  long before = metafs::test::rss_kib(pid);
  std::string result = probe(mount.mountpoint() / "bomb.nc", &seconds);
  long after = metafs::test::rss_kib(pid);
  EXPECT_EQ(result.rfind("error: ", 0), 0u) << result;
  EXPECT_TRUE(result.find("memory") != std::string::npos ||
              result.find("malloc") != std::string::npos)
      << result;
  EXPECT_LT(after - before, 16 * 1024)
      << "daemon RSS grew from " << before << " to " << after << " KiB";
  std::cout << "allocation bomb: " << result << " in " << seconds << " s; daemon RSS " << before
            << " -> " << after << " KiB\n";
  expect_daemon_healthy(mount, pid);
}

TEST(HostileMount, IsolationNoneStillWorks) {
  TempDir tmp;
  fs::path source = tmp.path() / "src";
  fs::create_directory(source);
  fs::copy_file(corpus_dir() / "hdf5" / "tall.h5", source / "tall.h5");
  fs::copy_file(corpus_dir() / "malformed" / "bad_nvars.nc1", source / "bad_nvars.nc1");
  MountRunner mount(source, {"--no-cache", "--isolation=none"});
  ASSERT_TRUE(mount.mounted());
  double seconds = 0;
  EXPECT_EQ(probe(mount.mountpoint() / "tall.h5", &seconds), "meta");
  EXPECT_EQ(metafs::test::read_file(mount.mountpoint() / "tall.h5" / "format"), "hdf5\n");
  EXPECT_EQ(probe(mount.mountpoint() / "bad_nvars.nc1", &seconds),
            "error: corrupt classic header: negative variable count");
  EXPECT_TRUE(child_pids(mount.pid()).empty()) << "no worker processes in this mode";
  EXPECT_TRUE(mount.alive());
}

}  // namespace
