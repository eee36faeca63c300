// The cache holds everyone's metadata: its directories are 0700 and its files 0600 whatever
// the umask, an existing one open to others is tightened (with a log line), and one of
// another user is refused. Checked through the code that opens the cache for the daemon and
// metafs-index (MetadataCache, LmdbStore).
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cache_log.hpp"
#include "lmdb_store.hpp"
#include "metadata_cache.hpp"
#include "temp_dir.hpp"

namespace metafs::cache {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

mode_t mode_of(const fs::path& p) {
  struct stat st;
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

class ScopedUmask {
 public:
  explicit ScopedUmask(mode_t mask) : old_(::umask(mask)) {}
  ~ScopedUmask() { ::umask(old_); }
  ScopedUmask(const ScopedUmask&) = delete;
  ScopedUmask& operator=(const ScopedUmask&) = delete;

 private:
  mode_t old_;
};

// The cache logger's recent lines.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64)) {
    cache_log().sinks().push_back(sink_);
  }
  ~LogCapture() {
    auto& sinks = cache_log().sinks();
    sinks.erase(std::remove(sinks.begin(), sinks.end(), sink_), sinks.end());
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  std::string text() const {
    std::string out;
    for (const std::string& line : sink_->last_formatted()) out += line;
    return out;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

LmdbStoreOptions options_for(const fs::path& dir) {
  LmdbStoreOptions o;
  o.dir = dir;
  o.map_size = 4 << 20;
  return o;
}

void expect_private(const fs::path& dir) {
  EXPECT_EQ(mode_of(dir), 0700u) << dir;
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    ++files;
    EXPECT_TRUE(entry.is_regular_file()) << entry.path();
    EXPECT_EQ(mode_of(entry.path()), 0600u) << entry.path();
  }
  EXPECT_GE(files, 2) << "data.mdb and lock.mdb at least";
}

TEST(CachePermissions, AFreshCacheIsPrivateUnderUmask000) {
  TempDir tmp;
  fs::path dir = tmp.path() / "home" / "cache" / "archive-0123456789abcdef";
  ScopedUmask open_umask(0);
  {
    CacheOptions options;
    options.dir = dir;
    options.disk_limit = 4 << 20;
    options.watch_pressure = false;
    MetadataCache cache(options);
    ASSERT_TRUE(cache.stats().disk_enabled);
    cache.put_format(CacheKey{"a.dcm", {}, 1}, extract::Format::kDicom);
    cache.flush();
    expect_private(dir);
    EXPECT_TRUE(fs::exists(dir / "in-use"));
  }
  expect_private(dir);
  // Parents it had to create are private too; the one that existed is left alone.
  EXPECT_EQ(mode_of(tmp.path() / "home"), 0700u);
  EXPECT_EQ(mode_of(tmp.path() / "home" / "cache"), 0700u);
  EXPECT_EQ(mode_of(tmp.path()), 0700u);  // TempDir's own (mkdtemp)
}

TEST(CachePermissions, AFreshCacheIsUsableUnderAStrictUmask) {
  TempDir tmp;
  ScopedUmask strict(0277);
  LmdbStore store(options_for(tmp.path() / "cache"));
  ASSERT_TRUE(store.enabled());
  store.put("k", "v");
  store.flush();
  EXPECT_EQ(store.get("k"), "v");
  expect_private(tmp.path() / "cache");
}

TEST(CachePermissions, AnExistingCacheOpenToOthersIsTightenedAndSaysSo) {
  TempDir tmp;
  fs::path dir = tmp.path() / "cache";
  {
    ScopedUmask old_default(022);
    LmdbStore store(options_for(dir));
    store.put("k", "v");
  }
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  for (const char* name : {"data.mdb", "lock.mdb"}) {
    ASSERT_EQ(::chmod((dir / name).c_str(), 0644), 0);
  }
  std::ofstream(dir / "data.mdb.corrupt-1") << "old metadata";
  ASSERT_EQ(::chmod((dir / "data.mdb.corrupt-1").c_str(), 0644), 0);

  LogCapture log;
  LmdbStore store(options_for(dir));
  ASSERT_TRUE(store.enabled());
  EXPECT_EQ(store.get("k"), "v");
  expect_private(dir);
  std::string text = log.text();
  for (const fs::path& p : {dir, dir / "data.mdb", dir / "lock.mdb", dir / "data.mdb.corrupt-1"}) {
    EXPECT_NE(text.find(p.string()), std::string::npos) << p << " in\n" << text;
  }
  EXPECT_NE(text.find("was mode 0755"), std::string::npos) << text;
  EXPECT_NE(text.find("was mode 0644"), std::string::npos) << text;
}

TEST(CachePermissions, ASharedDirectoryIsRefusedAndLeftAlone) {
  TempDir tmp;
  fs::path dir = tmp.path() / "shared";
  fs::create_directory(dir);
  ASSERT_EQ(::chmod(dir.c_str(), 01777), 0);
  LogCapture log;
  LmdbStore store(options_for(dir));
  EXPECT_FALSE(store.enabled());
  EXPECT_EQ(mode_of(dir), 01777u);
  EXPECT_TRUE(fs::is_empty(dir));
  EXPECT_NE(log.text().find("writable by others"), std::string::npos) << log.text();
}

// Root may chown to any uid; as another user the test cannot make such a directory.
class CachePermissionsAsRoot : public testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a cache to another uid";
  }
  static constexpr uid_t kOtherUid = 4242;
};

TEST_F(CachePermissionsAsRoot, ADirectoryOfAnotherUserIsRefused) {
  TempDir tmp;
  fs::path dir = tmp.path() / "cache";
  fs::create_directory(dir);
  ASSERT_EQ(::chown(dir.c_str(), kOtherUid, kOtherUid), 0);
  LogCapture log;
  LmdbStore store(options_for(dir));
  EXPECT_FALSE(store.enabled());
  EXPECT_TRUE(fs::is_empty(dir));
  EXPECT_NE(log.text().find("belongs to uid 4242"), std::string::npos) << log.text();
}

TEST_F(CachePermissionsAsRoot, AFileOfAnotherUserIsRefusedAndLeftAlone) {
  TempDir tmp;
  fs::path dir = tmp.path() / "cache";
  {
    LmdbStore store(options_for(dir));
    store.put("k", "v");
  }
  ASSERT_EQ(::chown((dir / "data.mdb").c_str(), kOtherUid, kOtherUid), 0);
  ASSERT_EQ(::chmod((dir / "data.mdb").c_str(), 0644), 0);
  LogCapture log;
  LmdbStore store(options_for(dir));
  EXPECT_FALSE(store.enabled());
  EXPECT_EQ(mode_of(dir / "data.mdb"), 0644u);  // not ours to change
  EXPECT_FALSE(fs::exists(dir / "in-use"));
  EXPECT_NE(log.text().find("belongs to uid 4242"), std::string::npos) << log.text();
}

}  // namespace
}  // namespace metafs::cache
