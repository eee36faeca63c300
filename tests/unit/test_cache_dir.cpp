#include <gtest/gtest.h>

#include <cstdlib>
#include <stdexcept>

#include "cache_dir.hpp"

namespace metafs::cache {
namespace {

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(CacheDir, FollowsSystemdThenXdgThenHome) {
  ScopedEnv home("HOME", "/home/someone");
  {
    ScopedEnv systemd("CACHE_DIRECTORY", "/var/cache/metafs:/var/cache/other");
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(default_cache_dir("/data/archive").parent_path(), "/var/cache/metafs");
  }
  {
    ScopedEnv systemd("CACHE_DIRECTORY", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", "/xdg");
    EXPECT_EQ(default_cache_dir("/data/archive").parent_path(), "/xdg/metafs");
  }
  {
    ScopedEnv systemd("CACHE_DIRECTORY", nullptr);
    ScopedEnv xdg("XDG_CACHE_HOME", "relative/ignored");
    EXPECT_EQ(default_cache_dir("/data/archive").parent_path(), "/home/someone/.cache/metafs");
  }
}

TEST(CacheDir, OneReadableDirectoryPerSourceRoot) {
  ScopedEnv systemd("CACHE_DIRECTORY", "/c");
  std::string name = default_cache_dir("/data/my archive").filename().string();
  EXPECT_TRUE(name.starts_with("my_archive-")) << name;
  EXPECT_EQ(name.size(), std::string("my_archive-").size() + 16);
  EXPECT_EQ(default_cache_dir("/data/my archive"), default_cache_dir("/data/my archive/"));
  EXPECT_EQ(default_cache_dir("/data/x/../my archive"), default_cache_dir("/data/my archive"));
  EXPECT_NE(default_cache_dir("/a/archive"), default_cache_dir("/b/archive"));
  EXPECT_TRUE(default_cache_dir("/").filename().string().starts_with("root-"));
}

TEST(CacheDir, ParseSizeAcceptsUnits) {
  EXPECT_EQ(parse_size("123"), 123u);
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("64K"), 64u * 1024);
  EXPECT_EQ(parse_size("64k"), 64u * 1024);
  EXPECT_EQ(parse_size("512M"), 512u * 1024 * 1024);
  EXPECT_EQ(parse_size("1G"), 1ull << 30);
  EXPECT_EQ(parse_size("2T"), 2ull << 40);
  EXPECT_EQ(parse_size("4KiB"), 4096u);
  EXPECT_EQ(parse_size("3MiB"), 3u << 20);
  EXPECT_EQ(parse_size("1GiB"), 1ull << 30);
  EXPECT_EQ(parse_size("1gb"), 1ull << 30);
  EXPECT_EQ(parse_size("100B"), 100u);
  EXPECT_EQ(parse_size("18446744073709551615"), UINT64_MAX);
}

TEST(CacheDir, ParseSizeRejectsTheRest) {
  for (const char* bad : {"", "K", "-1", "+5", "1.5G", " 1G", "1G ", "1 G", "1X", "1KiBB", "1Gi",
                          "18446744073709551616", "17179869184G", "0x10"}) {
    EXPECT_THROW(parse_size(bad), std::invalid_argument) << "'" << bad << "'";
  }
  try {
    parse_size("12Q");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("12Q"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace metafs::cache
