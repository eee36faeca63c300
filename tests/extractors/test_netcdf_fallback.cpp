// The registry's HDF5 view of files shown as netcdf that netCDF-C cannot read: refused at
// open (extract() falls back by itself) or crashing/looping in a worker (the caller asks).
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "corpus.hpp"
#include "registry.hpp"
#include "source_file.hpp"
#include "temp_dir.hpp"

namespace metafs::extract {
namespace {

namespace fs = std::filesystem;
using test::run_command;
using test::shell_quote;

const fs::path kOracle = fs::path(METAFS_ORACLE_DIR) / "netcdf_oracle.py";

std::vector<fs::path> oracle_files(const std::string& what, const fs::path& dir) {
  int status = -1;
  std::string list = run_command("/usr/bin/python3 " + shell_quote(kOracle.string()) + " " + what +
                                     " " + shell_quote(dir.string()),
                                 &status);
  EXPECT_EQ(status, 0);
  std::vector<fs::path> files;
  std::istringstream lines(list);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) files.emplace_back(line);
  return files;
}

TEST(NetcdfFallback, RefusedFilesShowTheHdf5ViewUnderFormatNetcdf) {
  test::TempDir dir;
  auto files = oracle_files("refused", dir.path());
  ASSERT_EQ(files.size(), 2u);
  ExtractorRegistry registry;
  for (const auto& file : files) {
    Extraction got = registry.extract(open_source_file(file), Format::kHdf5);
    EXPECT_EQ(got.format, Format::kNetcdf) << file;
    std::string start = "HDF5 \"" + file.filename().string() + "\" {\n";
    EXPECT_EQ(got.header.substr(0, start.size()), start) << file;
    EXPECT_GT(got.tree.size(), 1u) << file;
    EXPECT_EQ(got.error,
              "netCDF-C cannot read this file (cannot open as netCDF: NetCDF: HDF error), "
              "shown as HDF5")
        << file;
  }
}

// netCDF-C loops on a group cycle (so the daemon's worker times out); the HDF5 view shows
// the cycle as a hard link.
TEST(NetcdfFallback, Hdf5ViewOfAFileNetcdfCLoopsOn) {
  test::TempDir dir;
  auto files = oracle_files("hangs", dir.path());
  ASSERT_EQ(files.size(), 1u);
  ExtractorRegistry registry;
  Extraction got = registry.extract_hdf5_view(open_source_file(files[0]), "timed out after 10 s");
  EXPECT_EQ(got.format, Format::kNetcdf);
  EXPECT_EQ(got.error, "netCDF-C cannot read this file (timed out after 10 s), shown as HDF5");
  EXPECT_NE(got.header.find("HARDLINK \"/\""), std::string::npos) << got.header;
}

}  // namespace
}  // namespace metafs::extract
