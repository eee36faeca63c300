#pragma once

#include <filesystem>

namespace metafs::test {

// A temporary directory (temp_directory_path()/metafs-test-XXXXXX), removed with everything in it
// on destruction; a mount still inside it is lazily unmounted first, never descended into.
// Fails the test (ADD_FAILURE) when it cannot be created.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace metafs::test
