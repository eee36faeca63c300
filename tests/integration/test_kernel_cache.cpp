// The kernel's caches of a mirrored tree: long on a source inotify watches (the kernel does not
// ask again, and a change still shows within a second), short on a filesystem inotify cannot
// follow. The "network" filesystem here is honest: another metafs mount (FUSE, whose own
// backing store can change without this kernel's VFS seeing it, as NFS or SMB can), used as
// the whole SOURCE or as one directory inside it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "corpus.hpp"
#include "mount_runner.hpp"
#include "temp_dir.hpp"

namespace metafs::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Past the short timeouts (1 s): a second access after this asks the daemon again unless
// the kernel was given the long ones.
constexpr milliseconds kPastShortTimeouts{1300};
constexpr milliseconds kVisibleWithin{1000};

std::optional<milliseconds> wait_for(const std::function<bool()>& condition, milliseconds limit) {
  auto start = Clock::now();
  for (;;) {
    if (condition()) return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    if (Clock::now() - start >= limit) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

std::string read_or_empty(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return "";
  return read_file(path);
}

std::string listing(const fs::path& dir) {
  std::string names;
  std::error_code ec;
  std::vector<std::string> sorted;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    sorted.push_back(entry.path().filename().string());
  }
  std::sort(sorted.begin(), sorted.end());
  for (const std::string& name : sorted) names += name + "\n";
  return names;
}

// The daemon's request counters, less what reading stats.json itself costs.
struct Requests {
  std::uint64_t lookups = 0, getattrs = 0, readdir_replies = 0;
};
Requests requests(const MountRunner& mount) {
  nlohmann::json s = stats_of(mount);
  return {s["lookups"].get<std::uint64_t>(), s["getattrs"].get<std::uint64_t>(),
          s["readdir_replies"].get<std::uint64_t>()};
}

// Requests the daemon got for `access`, done twice with the short timeouts passing between.
// Returns those of the second time.
Requests second_access_requests(const MountRunner& mount, const std::function<void()>& access) {
  access();
  Requests a = requests(mount);
  Requests b = requests(mount);  // what a stats read costs
  std::this_thread::sleep_for(kPastShortTimeouts);
  Requests c = requests(mount);
  access();
  Requests d = requests(mount);
  auto cost = [](std::uint64_t x0, std::uint64_t x1) { return x1 - x0; };
  // c - b: the stats read alone (plus nothing); d - c: the access and one stats read.
  return {cost(c.lookups, d.lookups) - cost(a.lookups, b.lookups),
          cost(c.getattrs, d.getattrs) - cost(a.getattrs, b.getattrs),
          cost(c.readdir_replies, d.readdir_replies) - cost(a.readdir_replies, b.readdir_replies)};
}

void stat_path(const fs::path& path) {
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0) << path;
}

class KernelCache : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.path() / "src";
    fs::create_directories(src_ / "dir" / "sub");
    write_file(src_ / "dir" / "plain.txt", "first\n");
    write_file(src_ / "dir" / "gone.txt", "to be deleted\n");
    write_file(src_ / "dir" / "sub" / "inner.txt", "inner\n");
    fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "dir" / "image.fits");
  }

  // Everything the tests look at, so the kernel holds it all before the source changes.
  void touch_everything(const fs::path& mnt) {
    ASSERT_EQ(read_file(mnt / "dir" / "plain.txt"), "first\n");
    ASSERT_EQ(read_file(mnt / "dir" / "gone.txt"), "to be deleted\n");
    ASSERT_EQ(read_file(mnt / "dir" / "sub" / "inner.txt"), "inner\n");
    ASSERT_FALSE(read_file(mnt / "dir" / "image.fits" / "metadata.json").empty());
    ASSERT_EQ(read_file(mnt / "dir" / "image.fits" / "fields" / "0" / "NAXIS"), "0\n");
    ASSERT_FALSE(listing(mnt / "dir").empty());
    ASSERT_FALSE(listing(mnt / "dir" / "image.fits").empty());
    ASSERT_FALSE(fs::exists(mnt / "dir" / "new.txt"));
  }

  TempDir tmp_;
  fs::path src_;
};

TEST_F(KernelCache, ALocalSourceIsWatchedAndTheKernelDoesNotAskAgain) {
  MountRunner mount(src_);
  ASSERT_TRUE(mount.mounted());
  fs::path mnt = mount.mountpoint();
  nlohmann::json stats = stats_of(mount);
  EXPECT_EQ(stats["kernel_cache"], "long");
  EXPECT_EQ(stats["kernel_cache_long"], 1);
  EXPECT_NE(stats["source_filesystem"], "fuse");
  EXPECT_NE(mount.log().find("kernel cache: long"), std::string::npos) << mount.log();

  Requests again = second_access_requests(mount, [&] {
    stat_path(mnt / "dir" / "plain.txt");
    stat_path(mnt / "dir" / "sub");
    stat_path(mnt / "dir" / "image.fits");
    stat_path(mnt / "dir" / "image.fits" / "metadata.json");
  });
  EXPECT_EQ(again.lookups, 0u);
  EXPECT_EQ(again.getattrs, 0u);

  // A listing is kept too: listing again sends no readdir.
  Requests relisted = second_access_requests(mount, [&] {
    ASSERT_FALSE(listing(mnt / "dir").empty());
    ASSERT_FALSE(listing(mnt / "dir" / "image.fits").empty());
  });
  EXPECT_EQ(relisted.readdir_replies, 0u);
  EXPECT_EQ(relisted.lookups, 0u);
  // Opening a data directory whose listing the kernel keeps does not even look for its view
  // (which may have left memory: a second `find` would decode each one from the disk cache).
  const auto views_found = stats_of(mount)["view_hits"].get<std::uint64_t>();
  ASSERT_FALSE(listing(mnt / "dir" / "image.fits").empty());
  ASSERT_FALSE(listing(mnt / "dir" / "image.fits").empty());
  EXPECT_EQ(stats_of(mount)["view_hits"].get<std::uint64_t>(), views_found);
  EXPECT_GE(stats_of(mount)["watched_directories"].get<int>(), 3);  // root, dir, dir/sub
}

TEST_F(KernelCache, ChangesShowWithinASecondDespiteLongTimeouts) {
  MountRunner mount(src_, {"--watch-timeout", "600"});
  ASSERT_TRUE(mount.mounted());
  fs::path mnt = mount.mountpoint();
  touch_everything(mnt);
  std::string old_json = read_file(mnt / "dir" / "image.fits" / "metadata.json");
  std::string old_listing = listing(mnt / "dir");

  // Edited contents.
  write_file(src_ / "dir" / "plain.txt", "second version, longer\n");
  EXPECT_TRUE(
      wait_for([&] { return read_or_empty(mnt / "dir/plain.txt") == "second version, longer\n"; },
               kVisibleWithin))
      << "edit not seen: " << read_or_empty(mnt / "dir/plain.txt");

  // Created, deleted, renamed: names and the listing.
  write_file(src_ / "dir" / "new.txt", "new\n");
  fs::remove(src_ / "dir" / "gone.txt");
  fs::rename(src_ / "dir" / "sub" / "inner.txt", src_ / "dir" / "sub" / "renamed.txt");
  EXPECT_TRUE(wait_for([&] { return fs::exists(mnt / "dir" / "new.txt"); }, kVisibleWithin));
  EXPECT_TRUE(wait_for([&] { return !fs::exists(mnt / "dir" / "gone.txt"); }, kVisibleWithin));
  EXPECT_TRUE(
      wait_for([&] { return !fs::exists(mnt / "dir" / "sub" / "inner.txt"); }, kVisibleWithin));
  EXPECT_EQ(read_or_empty(mnt / "dir" / "sub" / "renamed.txt"), "inner\n");
  EXPECT_TRUE(wait_for(
      [&] {
        std::string now = listing(mnt / "dir");
        return now.find("new.txt\n") != std::string::npos &&
               now.find("gone.txt\n") == std::string::npos;
      },
      kVisibleWithin))
      << "listing still " << listing(mnt / "dir");
  EXPECT_TRUE(
      wait_for([&] { return listing(mnt / "dir" / "sub") == "renamed.txt\n"; }, kVisibleWithin))
      << "listing still " << listing(mnt / "dir" / "sub");

  // chmod: the attributes.
  fs::permissions(src_ / "dir" / "plain.txt", fs::perms::owner_read | fs::perms::group_read);
  EXPECT_TRUE(wait_for(
      [&] {
        struct stat st {};
        return ::stat((mnt / "dir" / "plain.txt").c_str(), &st) == 0 &&
               (st.st_mode & 07777) == 0440;
      },
      kVisibleWithin));

  // A data file replaced: its metadata.json describes the new one.
  fs::path replacement = tmp_.path() / "replacement.fits";
  fs::copy_file(corpus_dir() / "fits" / "testprog.std", replacement);
  std::string expected_json = run_command(shell_quote(binary("metafs-extract").string()) +
                                          " --as json " + shell_quote(replacement.string()));
  ASSERT_NE(expected_json, old_json);
  fs::rename(replacement, src_ / "dir" / "image.fits");
  EXPECT_TRUE(
      wait_for([&] { return read_or_empty(mnt / "dir/image.fits/metadata.json") == expected_json; },
               kVisibleWithin))
      << "metadata.json not renewed";
  EXPECT_GT(stats_of(mount)["invalidations"].get<int>(), 0);
  EXPECT_NE(listing(mnt / "dir"), old_listing);
}

// The whole SOURCE on a FUSE filesystem (another metafs): short timeouts, no watches.
TEST_F(KernelCache, ASourceOnAFilesystemInotifyCannotFollowKeepsShortTimeouts) {
  MountRunner inner(src_, {}, tmp_.path() / "inner");
  ASSERT_TRUE(inner.mounted());
  MountRunner mount(inner.mountpoint(), {}, tmp_.path() / "outer");
  ASSERT_TRUE(mount.mounted());
  fs::path mnt = mount.mountpoint();
  nlohmann::json stats = stats_of(mount);
  EXPECT_EQ(stats["kernel_cache"], "short");
  EXPECT_EQ(stats["kernel_cache_long"], 0);
  EXPECT_EQ(stats["source_filesystem"], "fuse");
  EXPECT_NE(mount.log().find("kernel cache: short (fuse source"), std::string::npos) << mount.log();

  Requests again = second_access_requests(mount, [&] { stat_path(mnt / "dir" / "plain.txt"); });
  EXPECT_GT(again.lookups + again.getattrs, 0u) << "the kernel kept a name past 1 s";
  Requests relisted = second_access_requests(mount, [&] { listing(mnt / "dir"); });
  EXPECT_GT(relisted.readdir_replies, 0u) << "the kernel kept a listing";
  stats = stats_of(mount);
  EXPECT_EQ(stats["watched_directories"], 0);
  EXPECT_GT(stats["unwatchable_directories"].get<int>(), 0);

  // A change in the inner source shows within the short timeouts.
  write_file(src_ / "dir" / "plain.txt", "changed below\n");
  EXPECT_TRUE(wait_for([&] { return read_or_empty(mnt / "dir/plain.txt") == "changed below\n"; },
                       milliseconds(3000)));
}

// One directory of a local SOURCE on a FUSE filesystem: that directory alone gets the short
// timeouts; the rest stays long.
TEST_F(KernelCache, ADirectoryOnAnotherFilesystemIsJudgedByItsOwnType) {
  fs::path other = tmp_.path() / "other";
  fs::create_directories(other / "deep");
  write_file(other / "deep" / "remote.txt", "remote\n");
  fs::create_directories(src_ / "net");
  MountRunner inner(other, {}, src_ / "net");
  ASSERT_TRUE(inner.mounted());
  MountRunner mount(src_);
  ASSERT_TRUE(mount.mounted());
  fs::path mnt = mount.mountpoint();
  EXPECT_EQ(stats_of(mount)["kernel_cache"], "long");
  ASSERT_EQ(read_file(mnt / "net" / "deep" / "remote.txt"), "remote\n");

  Requests local = second_access_requests(mount, [&] { stat_path(mnt / "dir" / "plain.txt"); });
  EXPECT_EQ(local.lookups + local.getattrs, 0u);
  Requests remote =
      second_access_requests(mount, [&] { stat_path(mnt / "net" / "deep" / "remote.txt"); });
  EXPECT_GT(remote.lookups + remote.getattrs, 0u) << "a name on FUSE was kept past 1 s";
  Requests remote_root = second_access_requests(mount, [&] { stat_path(mnt / "net"); });
  EXPECT_GT(remote_root.getattrs + remote_root.lookups, 0u)
      << "the mounted directory's own attributes were kept past 1 s";
  EXPECT_GT(stats_of(mount)["unwatchable_directories"].get<int>(), 0);
}

}  // namespace
}  // namespace metafs::test
