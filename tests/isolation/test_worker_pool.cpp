// WorkerPool used directly, with the built metafs-extract as its worker and the test-only
// fault injection (METAFS_WORKER_TEST_FAULT, read by workers when they start).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "corpus.hpp"
#include "extraction/worker_pool.hpp"
#include "isolation_support.hpp"
#include "mount_runner.hpp"
#include "registry.hpp"

namespace fs = std::filesystem;
using metafs::extract::Extraction;
using metafs::extract::Format;
using metafs::extract::open_source_file;
using metafs::extraction::WorkerPool;
using metafs::extraction::WorkerPoolOptions;
using metafs::test::child_pids;
using metafs::test::corpus_dir;

namespace {

class WorkerPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("METAFS_WORKER", metafs::test::binary("metafs-extract").c_str(), 1);
    ::unsetenv("METAFS_WORKER_TEST_FAULT");
    poison_ = tmp_.path() / "poison.fits";
    fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", poison_);
  }
  void TearDown() override { ::unsetenv("METAFS_WORKER_TEST_FAULT"); }

  // A pool whose workers inject `fault` for paths containing "poison".
  std::unique_ptr<WorkerPool> pool(const std::string& fault, WorkerPoolOptions options = {}) {
    if (!fault.empty()) ::setenv("METAFS_WORKER_TEST_FAULT", (fault + ":poison").c_str(), 1);
    return std::make_unique<WorkerPool>(options);
  }

  // A request after a failure must be served normally.
  void expect_healthy(WorkerPool& pool) {
    Extraction out =
        pool.extract(open_source_file(corpus_dir() / "fits" / "test_i10.fits"), Format::kFits);
    EXPECT_FALSE(out.failed()) << out.error;
    EXPECT_EQ(out.format, Format::kFits);
    EXPECT_GT(out.tree.value_count(), 5u);
  }

  metafs::test::TempDir tmp_;
  fs::path poison_;
};

TEST_F(WorkerPoolTest, SameResultAsInProcess) {
  auto workers = pool("");
  metafs::extract::ExtractorRegistry registry;
  for (const char* rel : {"hdf5/tall.h5", "fits/testprog.std", "dicom/fo-dicom_mr.dcm",
                          "netcdf/ref_nctest_classic.nc"}) {
    fs::path file = corpus_dir() / rel;
    Format format = std::string(rel).rfind("hdf5", 0) == 0    ? Format::kHdf5
                    : std::string(rel).rfind("fits", 0) == 0  ? Format::kFits
                    : std::string(rel).rfind("dicom", 0) == 0 ? Format::kDicom
                                                              : Format::kNetcdf;
    Extraction isolated = workers->extract(open_source_file(file), format);
    Extraction local = registry.extract(open_source_file(file), format);
    EXPECT_EQ(isolated.error, local.error) << rel;
    EXPECT_TRUE(isolated.tree == local.tree) << rel;
    EXPECT_EQ(isolated.header, local.header) << rel;
    EXPECT_EQ(isolated.extra_files, local.extra_files) << rel;
  }
  EXPECT_EQ(workers->schema_version(Format::kHdf5), registry.schema_version(Format::kHdf5));
}

TEST_F(WorkerPoolTest, KeepsTheFormatTheWorkerDecided) {
  auto workers = pool("");
  Extraction out = workers->extract(open_source_file(corpus_dir() / "netcdf" / "test_groups1.nc"),
                                    Format::kHdf5);
  EXPECT_FALSE(out.failed()) << out.error;
  EXPECT_EQ(out.format, Format::kNetcdf);
  EXPECT_NE(out.header.find("netcdf test_groups1"), std::string::npos) << out.header;
}

TEST_F(WorkerPoolTest, CrashBecomesTheSignalName) {
  auto workers = pool("crash");
  Extraction out = workers->extract(open_source_file(poison_), Format::kFits);
  EXPECT_EQ(out.error, "extractor crashed: SIGSEGV");
  EXPECT_EQ(out.format, Format::kFits);
  expect_healthy(*workers);
}

TEST_F(WorkerPoolTest, RealLibraryCrashIsContained) {
  auto workers = pool("");
  Extraction out = workers->extract(
      open_source_file(corpus_dir() / "malformed" / "cve-2018-16438.h5"), Format::kHdf5);
  EXPECT_EQ(out.error, "extractor crashed: SIGSEGV");
  out = workers->extract(open_source_file(corpus_dir() / "malformed" / "cve-2021-46244.h5"),
                         Format::kHdf5);
  EXPECT_EQ(out.error, "extractor crashed: SIGFPE");
  expect_healthy(*workers);
}

TEST_F(WorkerPoolTest, HangTimesOutAtTheDeadline) {
  WorkerPoolOptions options;
  options.timeout_seconds = 1;
  auto workers = pool("hang", options);
  expect_healthy(*workers);  // started and warm
  auto start = std::chrono::steady_clock::now();
  Extraction out = workers->extract(open_source_file(poison_), Format::kFits);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // A worker that sleeps is held up, not computing: not the file's verdict.
  EXPECT_EQ(out.error, "timed out after 1 s (the parser was held up: tried again later)");
  EXPECT_EQ(out.verdict, Extraction::Verdict::kTransient);
  EXPECT_GE(seconds, 0.9);
  EXPECT_LT(seconds, 2.0);
  expect_healthy(*workers);
}

TEST_F(WorkerPoolTest, SpinTimesOut) {
  WorkerPoolOptions options;
  options.timeout_seconds = 1;
  auto workers = pool("spin", options);
  Extraction out = workers->extract(open_source_file(poison_), Format::kFits);
  // Computing all along (its CPU-time clock says so): the file's doing.
  EXPECT_EQ(out.error, "timed out after 1 s");
  EXPECT_EQ(out.verdict, Extraction::Verdict::kCrashed);
  expect_healthy(*workers);
}

// Another process of the workers' account stops the worker of a good file: the timeout that
// follows is not the file's verdict (before: twice made it "timed out" for good).
TEST_F(WorkerPoolTest, AWorkerStoppedFromOutsideIsNotTheFilesVerdict) {
  WorkerPoolOptions options;
  options.timeout_seconds = 2;
  options.workers = 1;
  auto workers = pool("spin", options);
  expect_healthy(*workers);
  std::thread stopper([] {
    ::usleep(300000);
    for (pid_t pid : child_pids(::getpid())) ::kill(pid, SIGSTOP);
  });
  Extraction out = workers->extract(open_source_file(poison_), Format::kFits);
  stopper.join();
  EXPECT_EQ(out.verdict, Extraction::Verdict::kTransient) << out.error;
  EXPECT_EQ(out.error, "timed out after 2 s (the parser was held up: tried again later)");
  expect_healthy(*workers);
}

TEST_F(WorkerPoolTest, AddressSpaceLimitIsReported) {
  WorkerPoolOptions options;
  options.memory_bytes = 256ull << 20;
  auto workers = pool("oom", options);
  Extraction out = workers->extract(open_source_file(poison_), Format::kFits);
  EXPECT_EQ(out.error, "ran out of memory (limit 256 MiB)");
  expect_healthy(*workers);
}

TEST_F(WorkerPoolTest, DefaultLimitReadsOneGib) {
  auto workers = pool("oom");
  EXPECT_EQ(workers->extract(open_source_file(poison_), Format::kFits).error,
            "ran out of memory (limit 1 GiB)");
}

TEST_F(WorkerPoolTest, InvalidRepliesAreRejected) {
  for (const char* fault : {"garbage", "huge"}) {
    auto workers = pool(fault);
    Extraction out = workers->extract(open_source_file(poison_), Format::kFits);
    EXPECT_EQ(out.error, "invalid reply from the extractor") << fault;
    EXPECT_EQ(out.tree.size(), 1u) << fault;
    expect_healthy(*workers);
  }
}

TEST_F(WorkerPoolTest, ExitWithoutReply) {
  auto workers = pool("exit");
  EXPECT_EQ(workers->extract(open_source_file(poison_), Format::kFits).error,
            "extractor exited with status 7");
  expect_healthy(*workers);
}

TEST_F(WorkerPoolTest, SandboxStopsEscapes) {
  for (const char* fault : {"socket", "exec", "fork", "write"}) {
    auto workers = pool(fault);
    Extraction out = workers->extract(open_source_file(poison_), Format::kFits);
    EXPECT_EQ(out.error, "extractor crashed: SIGSYS (forbidden system call)") << fault;
    expect_healthy(*workers);
  }
  EXPECT_FALSE(fs::exists("/tmp/metafs-worker-escape"));
}

TEST_F(WorkerPoolTest, WorkersAreSandboxedAndInheritNothing) {
  int leaked = ::open("/dev/null", O_RDONLY);  // not close-on-exec on purpose
  ASSERT_GE(leaked, 0);
  WorkerPoolOptions options;
  options.workers = 2;
  options.memory_bytes = 512ull << 20;
  auto workers = pool("", options);
  expect_healthy(*workers);
  expect_healthy(*workers);
  ::close(leaked);
  // Both workers past their start-up (the second may still be warming up).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  auto pids = child_pids(::getpid());
  auto sandboxed = [&] {
    pids = child_pids(::getpid());
    if (pids.size() != 2) return false;
    // NoNewPrivs too: inside a container Seccomp may read 2 before the worker's own filter
    // (the container manager's), and NoNewPrivs is set after the limits.
    for (pid_t pid : pids) {
      if (metafs::test::status_field(pid, "Seccomp") != "2") return false;
      if (metafs::test::status_field(pid, "NoNewPrivs") != "1") return false;
    }
    return true;
  };
  while (!sandboxed() && std::chrono::steady_clock::now() < deadline) ::usleep(10000);
  ASSERT_EQ(pids.size(), 2u);
  for (pid_t pid : pids) {
    EXPECT_EQ(metafs::test::status_field(pid, "Seccomp"), "2");
    EXPECT_EQ(metafs::test::status_field(pid, "NoNewPrivs"), "1");
    std::string limits = metafs::test::read_file("/proc/" + std::to_string(pid) + "/limits");
    EXPECT_NE(limits.find("Max data size             536870912            536870912"),
              std::string::npos)
        << limits;
    EXPECT_NE(limits.find("Max file size             0                    0"), std::string::npos)
        << limits;
    EXPECT_NE(limits.find("Max core file size        0                    0"), std::string::npos);
    std::set<std::string> fds;
    for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
      fds.insert(fd.path().filename().string());
    }
    EXPECT_EQ(fds.size(), 4u) << "0, 1, 2 and the socket only";
  }
}

TEST_F(WorkerPoolTest, RecyclesAfterTheConfiguredCount) {
  WorkerPoolOptions options;
  options.workers = 1;
  options.recycle_after = 3;
  auto workers = pool("", options);
  std::vector<pid_t> seen;
  for (int i = 0; i < 7; ++i) {
    expect_healthy(*workers);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::vector<pid_t> now;
    while ((now = child_pids(::getpid())).size() != 1 &&
           std::chrono::steady_clock::now() < deadline) {
      ::usleep(5000);
    }
    ASSERT_EQ(now.size(), 1u);
    seen.push_back(now[0]);
  }
  // Files 1-2 on the first worker; the third retires it, and so on.
  EXPECT_EQ(seen[0], seen[1]);
  EXPECT_NE(seen[1], seen[2]);
  EXPECT_EQ(seen[2], seen[3]);
  EXPECT_EQ(seen[3], seen[4]);
  EXPECT_NE(seen[4], seen[5]);
}

// Minor page faults of process `pid` so far (/proc/PID/stat, field 10).
unsigned long minor_faults(pid_t pid) {
  std::string stat = metafs::test::read_file("/proc/" + std::to_string(pid) + "/stat");
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  for (int i = 3; i < 10 && rest >> field;) ++i;
  unsigned long faults = 0;
  rest >> faults;
  return faults;
}

// A worker keeps the heap a file freed for the next one (worker_allocator.hpp). A process with
// glibc's default thresholds (floor_metafs before it set them) gave its heap back after each
// tile-compressed image (three CFITSIO memory files) and faulted it in again, zeroed: 25 faults
// and a third of the image's extraction time per file. Workers escaped that only because
// their warm-up happened to raise glibc's sliding thresholds; the settings are explicit now.
TEST_F(WorkerPoolTest, AWorkerReusesItsHeapFromFileToFile) {
  WorkerPoolOptions options;
  options.workers = 1;
  auto workers = pool("", options);
  fs::path image = corpus_dir() / "fits" / "m13_hcomp.fits";
  for (int i = 0; i < 3; ++i) {
    Extraction out = workers->extract(open_source_file(image), Format::kFits);
    ASSERT_FALSE(out.failed()) << out.error;
  }
  auto pids = child_pids(::getpid());
  ASSERT_EQ(pids.size(), 1u);
  unsigned long before = minor_faults(pids[0]);
  constexpr int kFiles = 20;
  for (int i = 0; i < kFiles; ++i) {
    Extraction out = workers->extract(open_source_file(image), Format::kFits);
    ASSERT_FALSE(out.failed()) << out.error;
  }
  unsigned long per_file = (minor_faults(pids[0]) - before) / kFiles;
  // Measured: 0 per file.
  EXPECT_LT(per_file, 40u);
}

// The GLIBC_TUNABLES a worker started with, or "<none>". The daemon puts it last in the
// worker's environment; glibc, parsing it at start-up, writes a NUL after each value it
// recognised into the environment /proc/PID/environ shows, so the rest up to the end is it,
// with those NULs read back as the separating colons.
std::string started_tunables(pid_t pid) {
  std::string environ_text = metafs::test::read_file("/proc/" + std::to_string(pid) + "/environ");
  constexpr std::string_view kName = "GLIBC_TUNABLES=";
  std::size_t at = environ_text.find(kName);
  if (at == std::string::npos || (at > 0 && environ_text[at - 1] != '\0')) return "<none>";
  std::string value = environ_text.substr(at + kName.size());
  while (!value.empty() && value.back() == '\0') value.pop_back();
  std::replace(value.begin(), value.end(), '\0', ':');
  return value;
}

// glibc reads its tunables only when a process starts: the daemon hands a worker its thread
// cache size (worker_allocator.hpp) in the environment, and keeps what an administrator set.
TEST_F(WorkerPoolTest, WorkersStartWithTheirMallocTunables) {
  const char* saved = std::getenv("GLIBC_TUNABLES");
  std::string restore = saved != nullptr ? saved : "";
  struct Case {
    const char* daemon;  // the daemon's GLIBC_TUNABLES (nullptr: unset)
    std::string worker;
  };
  const Case cases[] = {
      {nullptr, "glibc.malloc.tcache_count=2048"},
      {"glibc.malloc.perturb=0", "glibc.malloc.perturb=0:glibc.malloc.tcache_count=2048"},
      {"glibc.malloc.tcache_count=16", "glibc.malloc.tcache_count=16"},
  };
  for (const Case& c : cases) {
    if (c.daemon != nullptr) {
      ::setenv("GLIBC_TUNABLES", c.daemon, 1);
    } else {
      ::unsetenv("GLIBC_TUNABLES");
    }
    WorkerPoolOptions options;
    options.workers = 1;
    auto workers = pool("", options);
    expect_healthy(*workers);
    auto pids = child_pids(::getpid());
    ASSERT_EQ(pids.size(), 1u);
    EXPECT_EQ(started_tunables(pids[0]), c.worker) << (c.daemon ? c.daemon : "(unset)");
  }
  if (saved != nullptr) {
    ::setenv("GLIBC_TUNABLES", restore.c_str(), 1);
  } else {
    ::unsetenv("GLIBC_TUNABLES");
  }
}

TEST_F(WorkerPoolTest, MissingExecutableIsAnError) {
  WorkerPoolOptions options;
  options.executable = "/nonexistent/metafs-extract";
  auto workers = pool("", options);
  Extraction out = workers->extract(open_source_file(poison_), Format::kFits);
  EXPECT_EQ(out.error.rfind("cannot start an extractor worker: ", 0), 0u) << out.error;
}

}  // namespace
