#include "temp_dir.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "mount_runner.hpp"

namespace metafs::test {

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "metafs-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  // Never descend into a mount that is still there.
  for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
    if (entry.is_directory(ec) && is_mount_point(entry.path())) {
      std::string cmd = "fusermount3 -u -z '" + entry.path().string() + "' 2>/dev/null";
      (void)std::system(cmd.c_str());
    }
  }
  std::filesystem::remove_all(path_, ec);
}

}  // namespace metafs::test
