// --version of the three tools: the program's version and the libraries it runs with, as
// the installed libraries report themselves (compared with pkg-config).
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>

#include "corpus.hpp"
#include "mount_runner.hpp"

using metafs::test::run_command;
using metafs::test::shell_quote;

namespace {

// "name version" lines after the first.
std::map<std::string, std::string> libraries_in(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);  // the program's own line
  while (std::getline(lines, line)) {
    auto space = line.rfind(' ');
    if (space != std::string::npos) out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

std::string pkg_config_version(const std::string& module) {
  int status = 0;
  std::string version = run_command("pkg-config --modversion " + module, &status);
  EXPECT_EQ(status, 0) << module;
  while (!version.empty() && version.back() == '\n') version.pop_back();
  return version;
}

TEST(Version, EveryToolNamesItsVersionAndEveryLibraryItRunsWith) {
  const std::map<std::string, std::string> expected = {
      {"libfuse", pkg_config_version("fuse3")},   {"DCMTK", pkg_config_version("dcmtk")},
      {"CFITSIO", pkg_config_version("cfitsio")}, {"HDF5", pkg_config_version("hdf5")},
      {"netCDF-C", pkg_config_version("netcdf")}, {"LMDB", pkg_config_version("lmdb")},
      {"zstd", pkg_config_version("libzstd")}};
  for (const char* tool : {"metafs", "metafs-index", "metafs-extract"}) {
    for (const char* flag : {"--version", "-V"}) {
      int status = -1;
      std::string out =
          run_command(shell_quote(metafs::test::binary(tool)) + " " + flag + " 2>&1", &status);
      EXPECT_EQ(status, 0) << tool << " " << flag << ": " << out;
      EXPECT_EQ(out.rfind(std::string(tool) + " 0.", 0), 0u) << out;
      EXPECT_EQ(libraries_in(out), expected) << tool << " " << flag << ":\n" << out;
    }
  }
}

}  // namespace
