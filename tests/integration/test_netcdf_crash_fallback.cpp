// A .nc file (HDF5 signature) on which netCDF-C loops forever, through a real mount with
// worker processes: the worker is killed at its deadline, and the mount shows what the HDF5
// extractor reads in the file, under format netcdf, with error saying netCDF-C could not.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "corpus.hpp"
#include "mount_runner.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;

namespace {

TEST(NetcdfCrashFallback, AFileNetcdfCHangsOnShowsItsHdf5View) {
  TempDir tmp;
  fs::path src = tmp.path() / "src";
  fs::create_directories(src);
  const fs::path oracle = fs::path(METAFS_ORACLE_DIR) / "netcdf_oracle.py";
  std::string made = run_command("/usr/bin/python3 " + shell_quote(oracle.string()) + " hangs " +
                                 shell_quote(src.string()) + " 2>&1");
  ASSERT_TRUE(fs::exists(src / "group_cycle.nc")) << made;
  MountRunner mount(src, {"--extract-timeout", "1", "--prefetch", "0"});
  ASSERT_TRUE(mount.mounted()) << mount.log();
  const fs::path file = mount.mountpoint() / "group_cycle.nc";
  // netCDF-C hangs until the deadline, then the HDF5 view is shown. On a loaded machine the
  // worker may not get its CPU second before the deadline: that counts as held up, not as
  // the file's doing, and the next look tries again.
  std::string error;
  for (int attempt = 0; attempt < 30; ++attempt) {
    error = read_file(file / "error");
    if (error.find("shown as HDF5") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  EXPECT_EQ(read_file(file / "format"), "netcdf\n");
  EXPECT_NE(error.find("netCDF-C cannot read this file (timed out after 1 s"), std::string::npos)
      << error;
  EXPECT_NE(error.find("shown as HDF5"), std::string::npos) << error;
  // What HDF5 reads: the group and its link back to the root.
  EXPECT_TRUE(fs::exists(file / "fields" / "g")) << read_file(file / "metadata.txt");
  std::string header = read_file(file / "header.txt");
  EXPECT_NE(header.find("GROUP \"g\""), std::string::npos) << header;
}

}  // namespace
