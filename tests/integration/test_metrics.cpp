// /.metafs/metrics and /.metafs/openmetrics read by real parsers (python3-prometheus-client):
// both formats parse, names follow the Prometheus rules, and every number of stats.json is
// there (tests/integration/check_metrics.py).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "corpus.hpp"
#include "mount_runner.hpp"

namespace fs = std::filesystem;
using metafs::test::corpus_dir;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;
using metafs::test::write_file;

namespace {

TEST(Metrics, ParseAsPrometheusTextAndOpenMetricsAndShowAllOfStatsJson) {
  TempDir tmp;
  const fs::path src = tmp.path() / "src";
  fs::create_directories(src / "sub");
  fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src / "image.fits");
  fs::copy_file(corpus_dir() / "dicom" / "fo-dicom_mr.dcm", src / "sub" / "mr.dcm");
  MountRunner mount(src);
  ASSERT_TRUE(mount.mounted()) << mount.log();
  const fs::path mnt = mount.mountpoint();
  (void)read_file(mnt / "image.fits" / "metadata.txt");
  (void)read_file(mnt / "sub" / "mr.dcm" / "metadata.txt");
  (void)run_command("ls -lR " + shell_quote(mnt) + " >/dev/null");

  const fs::path control = mnt / ".metafs";
  for (const char* name : {"metrics", "openmetrics", "stats.json"}) {
    write_file(tmp.path() / name, read_file(control / name));
  }
  nlohmann::json stats = nlohmann::json::parse(read_file(tmp.path() / "stats.json"));
  EXPECT_EQ(stats["memory_pressure"], "normal");
  EXPECT_EQ(stats["memory_pressure_trigger"], "none");
  EXPECT_GT(stats["getattrs"].get<std::uint64_t>(), 0u);
  EXPECT_GT(stats["readdirs"].get<std::uint64_t>(), 0u);

  int status = -1;
  std::string out = run_command(
      "/usr/bin/python3 " +
          shell_quote(std::string(METAFS_SOURCE_DIR) + "/tests/integration/check_metrics.py") +
          " " + shell_quote(tmp.path() / "metrics") + " " +
          shell_quote(tmp.path() / "openmetrics") + " " + shell_quote(tmp.path() / "stats.json") +
          " 2>&1",
      &status);
  EXPECT_EQ(status, 0) << out << "\n--- metrics:\n" << read_file(tmp.path() / "metrics");
  std::cout << out;

  std::string metrics = read_file(tmp.path() / "metrics");
  EXPECT_NE(metrics.find("\nmetafs_memory_used_bytes "), std::string::npos);
  EXPECT_NE(metrics.find("# TYPE metafs_lookups_total counter\n"), std::string::npos);
  EXPECT_NE(metrics.find("metafs_build_info{version=\"" + stats["version"].get<std::string>() +
                         "\"} 1\n"),
            std::string::npos);
  std::string om = read_file(tmp.path() / "openmetrics");
  EXPECT_NE(om.find("# TYPE metafs_lookups counter\n"), std::string::npos);
  EXPECT_TRUE(om.ends_with("# EOF\n"));
  EXPECT_TRUE(run_command("ls " + shell_quote(control)).find("openmetrics") != std::string::npos);
}

}  // namespace

// workers_ready: the extractor workers a freshly started daemon has up (its first files wait
// for them); none with --isolation none.
TEST(Metrics, WorkersReadyCountsTheStartedWorkers) {
  TempDir tmp;
  const std::filesystem::path src = tmp.path() / "src";
  std::filesystem::create_directories(src);
  MountRunner pooled(src, {"--no-cache", "--workers", "2"});
  ASSERT_TRUE(pooled.mounted());
  nlohmann::json stats = metafs::test::stats_of(pooled);
  for (int i = 0; i < 200 && stats["workers_ready"].get<unsigned>() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stats = metafs::test::stats_of(pooled);
  }
  EXPECT_EQ(stats["workers_ready"].get<unsigned>(), 2u) << stats.dump(2);

  MountRunner in_process(src, {"--no-cache", "--isolation", "none"}, tmp.path() / "mnt-in-process");
  ASSERT_TRUE(in_process.mounted());
  EXPECT_EQ(metafs::test::stats_of(in_process)["workers_ready"].get<unsigned>(), 0u);
}
