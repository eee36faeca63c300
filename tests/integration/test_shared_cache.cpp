// The shared tier end to end, against a PostgreSQL server the test starts on loopback
// (tests/support/postgres_cluster): two daemons with separate local caches share one tier,
// metafs-index shards cover a tree once, a server stopped mid-walk costs no error and is
// caught up after, and readers see only rows of files they could read.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "corpus.hpp"
#include "mount_runner.hpp"
#include "postgres_cluster.hpp"
#include "test_user.hpp"

namespace fs = std::filesystem;
using metafs::test::binary;
using metafs::test::corpus_dir;
using metafs::test::MountRunner;
using metafs::test::PostgresCluster;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::stats_of;
using metafs::test::TempDir;
using metafs::test::TestUser;

namespace {

// One file of each format, one in a subdirectory, a broken one (its error is a verdict and
// is shared too).
const std::vector<std::pair<std::string, std::string>> kDataFiles = {
    {"dicom/fo-dicom_mr.dcm", "mr.dcm"},
    {"dicom/GH1301.dcm", "sub/deeper/chinese.dcm"},
    {"fits/test_i10.fits", "image.fits"},
    {"hdf5/tall.h5", "sub/tall.h5"},
    {"netcdf/ref_nctest_classic.nc", "classic.nc"},
    {"netcdf/test_groups1.nc", "sub/groups.nc"},
    {"malformed/FITS_truncated.fits", "broken.fits"},
};

// Polls `done` every 50 ms for up to `seconds`; true once it holds.
template <typename Done>
bool wait_for(Done done, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

std::uint64_t stat_of(const MountRunner& mount, const char* name) {
  nlohmann::json stats = stats_of(mount);
  return stats.contains(name) ? stats[name].get<std::uint64_t>() : ~0ull;
}

class SharedCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pg_.running());
    src_ = tmp_.path() / "src";
    fs::create_directories(src_ / "sub" / "deeper");
    for (const auto& [from, to] : kDataFiles) fs::copy_file(corpus_dir() / from, src_ / to);
    std::ofstream(src_ / "notes.txt") << "plain text\n";
  }

  std::vector<std::string> shared_args(const std::string& cache, const std::string& root) {
    return {"--cache-dir",    (tmp_.path() / cache).string(),
            "--shared-cache", pg_.uri(),
            "--shared-root",  root};
  }

  // Every file under the mount (but /.metafs) with its SHA-256, sorted: what a walk reads.
  static std::string walk(const MountRunner& mount) {
    return run_command("cd " + shell_quote(mount.mountpoint()) +
                       " && find . -path ./.metafs -prune -o -type f -print0 | sort -z | "
                       "xargs -0 sha256sum");
  }

  std::uint64_t rows(const std::string& root) {
    std::string count = pg_.psql("SELECT count(*) FROM metafs.files WHERE root = '" + root + "'");
    return count.empty() || !std::isdigit(static_cast<unsigned char>(count[0]))
               ? ~0ull
               : std::stoull(count);
  }

  PostgresCluster pg_;
  TempDir tmp_;
  fs::path src_;
};

TEST_F(SharedCacheTest, SecondNodeExtractsNothingAndShowsTheSameBytes) {
  std::string first_walk;
  {
    MountRunner a(src_, shared_args("cache-a", "archive"));
    ASSERT_TRUE(a.mounted()) << a.log();
    first_walk = walk(a);
    EXPECT_EQ(stat_of(a, "extractions"), kDataFiles.size());
    EXPECT_TRUE(wait_for(
        [&] {
          return stat_of(a, "shared_written") == kDataFiles.size() &&
                 stat_of(a, "shared_queued") == 0;
        },
        20))
        << stats_of(a).dump() << a.log();
    EXPECT_EQ(stat_of(a, "shared_up"), 1u);
  }
  EXPECT_EQ(rows("archive"), kDataFiles.size());
  // The rows are queryable: the DICOM files by a field, through the GIN index's operator.
  EXPECT_EQ(pg_.psql("SELECT path FROM metafs.files WHERE root = 'archive' AND fields @> "
                     "'{\"Modality\": \"MR\"}' ORDER BY path"),
            "mr.dcm");

  MountRunner b(src_, shared_args("cache-b", "archive"));
  ASSERT_TRUE(b.mounted()) << b.log();
  std::string second_walk = walk(b);
  EXPECT_FALSE(second_walk.empty());
  EXPECT_EQ(second_walk, first_walk);
  nlohmann::json stats = stats_of(b);
  EXPECT_EQ(stats["extractions"], 0u) << stats.dump();
  EXPECT_EQ(stats["shared_hits"], kDataFiles.size()) << stats.dump();
  EXPECT_EQ(stats["shared_written"], 0u) << stats.dump();
  // What the shared tier gave went to the node's own cache: a restart needs no server.
  b.stop();
  MountRunner b_again(src_, {"--cache-dir", (tmp_.path() / "cache-b").string()});
  ASSERT_TRUE(b_again.mounted()) << b_again.log();
  EXPECT_EQ(walk(b_again), first_walk);
  EXPECT_EQ(stat_of(b_again, "extractions"), 0u);
}

TEST_F(SharedCacheTest, AnotherRootNameSharesNothing) {
  {
    MountRunner a(src_, shared_args("cache-a", "one"));
    ASSERT_TRUE(a.mounted()) << a.log();
    walk(a);
    EXPECT_TRUE(wait_for([&] { return stat_of(a, "shared_queued") == 0; }, 20));
  }
  MountRunner b(src_, shared_args("cache-b", "two"));
  ASSERT_TRUE(b.mounted()) << b.log();
  walk(b);
  EXPECT_EQ(stat_of(b, "extractions"), kDataFiles.size());
  EXPECT_EQ(stat_of(b, "shared_hits"), 0u);
}

TEST_F(SharedCacheTest, ServerStoppedMidWalkCostsNoErrorAndIsCaughtUp) {
  // No read-ahead: exactly the files read are extracted before the server stops.
  std::vector<std::string> args = shared_args("cache", "archive");
  args.insert(args.end(), {"--prefetch", "0"});
  MountRunner mount(src_, args);
  ASSERT_TRUE(mount.mounted()) << mount.log();
  std::size_t half = kDataFiles.size() / 2;
  for (std::size_t i = 0; i < half; ++i) {
    EXPECT_FALSE(read_file(mount.mountpoint() / kDataFiles[i].second / "metadata.json").empty());
  }
  EXPECT_TRUE(wait_for([&] { return stat_of(mount, "shared_written") == half; }, 20));
  pg_.stop();
  for (std::size_t i = half; i < kDataFiles.size(); ++i) {
    const std::string& rel = kDataFiles[i].second;
    int status = -1;
    std::string shown =
        run_command("cat " + shell_quote(mount.mountpoint() / rel / "metadata.json"), &status);
    EXPECT_EQ(status, 0) << rel;
    std::string expected = run_command(shell_quote(binary("metafs-extract")) + " " +
                                       shell_quote(src_ / rel) + " --as json 2>/dev/null");
    EXPECT_EQ(nlohmann::json::parse(shown), nlohmann::json::parse(expected)) << rel;
  }
  EXPECT_EQ(walk(mount).find("No such"), std::string::npos);
  nlohmann::json down = stats_of(mount);
  EXPECT_EQ(down["shared_up"], 0u) << down.dump();
  EXPECT_EQ(down["shared_queued"], kDataFiles.size() - half) << down.dump();
  EXPECT_EQ(down["extractions"], kDataFiles.size()) << down.dump();

  pg_.start();
  ASSERT_TRUE(pg_.running());
  EXPECT_TRUE(wait_for(
      [&] { return stat_of(mount, "shared_up") == 1 && stat_of(mount, "shared_queued") == 0; }, 60))
      << stats_of(mount).dump() << mount.log();
  EXPECT_EQ(rows("archive"), kDataFiles.size());
  // Each change of state logged once: down once, back once (and up once at start).
  std::string log = mount.log();
  std::size_t downs = 0;
  for (std::size_t at = log.find("PostgreSQL unavailable"); at != std::string::npos;
       at = log.find("PostgreSQL unavailable", at + 1)) {
    ++downs;
  }
  EXPECT_EQ(downs, 1u) << log;
}

TEST_F(SharedCacheTest, ASlowServerCostsARequestNoMoreThanTheDeadline) {
  {
    MountRunner a(src_, shared_args("cache-a", "archive"));
    ASSERT_TRUE(a.mounted()) << a.log();
    walk(a);
    ASSERT_TRUE(wait_for([&] { return stat_of(a, "shared_queued") == 0; }, 20));
  }
  std::vector<std::string> args = shared_args("cache-b", "archive");
  args.insert(args.end(), {"--prefetch", "0"});
  MountRunner b(src_, args);
  ASSERT_TRUE(b.mounted()) << b.log();
  // Another session holds the table for 4 s: every lookup waits on its lock.
  run_command("timeout 20 " + shell_quote((metafs::test::postgres_bin_dir() / "psql").string()) +
              " -X -q " + shell_quote(pg_.uri()) +
              " -c 'BEGIN; LOCK TABLE metafs.files IN ACCESS EXCLUSIVE MODE; SELECT "
              "pg_sleep(4); COMMIT' >/dev/null 2>&1 &");
  ASSERT_TRUE(wait_for(
      [&] {
        return pg_.psql(
                   "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND "
                   "relation = 'metafs.files'::regclass") == "1";
      },
      10));
  for (const auto& [from, rel] : kDataFiles) {
    auto start = std::chrono::steady_clock::now();
    std::string shown = read_file(b.mountpoint() / rel / "metadata.json");
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_FALSE(shown.empty()) << rel;
    // The 50 ms deadline and a local extraction; never the 4 s the server takes.
    EXPECT_LT(took, std::chrono::milliseconds(1500)) << rel;
  }
  nlohmann::json stats = stats_of(b);
  EXPECT_GE(stats["shared_timeouts"].get<std::uint64_t>(), 1u) << stats.dump();
  EXPECT_EQ(stats["extractions"], kDataFiles.size()) << stats.dump();
  // Every lookup either timed out or was not tried (server counted down, no free connection).
  EXPECT_EQ(
      stats["shared_timeouts"].get<std::uint64_t>() + stats["shared_skipped"].get<std::uint64_t>(),
      kDataFiles.size())
      << stats.dump();
  EXPECT_EQ(stats["shared_hits"], 0u) << stats.dump();
}

TEST_F(SharedCacheTest, ADaemonStartsAndServesWithTheServerDown) {
  pg_.stop();
  MountRunner mount(src_, shared_args("cache", "archive"));
  ASSERT_TRUE(mount.mounted()) << mount.log();
  EXPECT_FALSE(walk(mount).empty());
  EXPECT_EQ(stat_of(mount, "extractions"), kDataFiles.size());
  EXPECT_EQ(stat_of(mount, "shared_up"), 0u);
  pg_.start();
  EXPECT_TRUE(wait_for([&] { return stat_of(mount, "shared_queued") == 0; }, 60))
      << stats_of(mount).dump();
  EXPECT_EQ(rows("archive"), kDataFiles.size());
}

TEST_F(SharedCacheTest, FourShardsUnderXargsCoverEveryFileOnce) {
  // More files, so each shard has some: the tree three times over.
  for (const char* copy : {"copy1", "copy2"}) {
    fs::create_directories(src_ / copy / "sub" / "deeper");
    for (const auto& [from, to] : kDataFiles) fs::copy_file(corpus_dir() / from, src_ / copy / to);
  }
  std::size_t data_files = kDataFiles.size() * 3;
  std::size_t all_files = data_files + 1;  // notes.txt
  fs::path out = tmp_.path() / "out";
  fs::create_directory(out);
  std::string index = shell_quote(binary("metafs-index")) + " " + shell_quote(src_) +
                      " --json --no-progress --shard {}/4 --shared-root shards --shared-cache " +
                      shell_quote(pg_.uri()) + " --cache-dir " +
                      shell_quote((tmp_.path() / "cache").string()) + "{}";
  int status = -1;
  std::string said =
      run_command("printf '0\\n1\\n2\\n3\\n' | xargs -P 2 -I{} sh -c " +
                      shell_quote(index + " > " + out.string() + "/{}.json") + " 2>&1",
                  &status);
  ASSERT_EQ(status, 0) << said;
  std::uint64_t files = 0, extractions = 0, written = 0;
  unsigned nonempty = 0;
  for (int k = 0; k < 4; ++k) {
    nlohmann::json summary = nlohmann::json::parse(read_file(out / (std::to_string(k) + ".json")));
    EXPECT_EQ(summary["shard"], std::to_string(k) + "/4");
    files += summary["files"].get<std::uint64_t>();
    extractions += summary["extractions"].get<std::uint64_t>();
    written += summary["shared"]["written"].get<std::uint64_t>();
    if (summary["files"].get<std::uint64_t>() > 0) ++nonempty;
  }
  EXPECT_EQ(files, all_files);
  EXPECT_EQ(extractions, data_files);
  EXPECT_EQ(written, data_files);
  EXPECT_GE(nonempty, 3u);
  EXPECT_EQ(rows("shards"), data_files);
  EXPECT_EQ(pg_.psql("SELECT count(DISTINCT path) FROM metafs.files WHERE root = 'shards'"),
            std::to_string(data_files));

  // The same shard again finds everything in the shared tier (another node's local cache).
  int again_status = -1;
  std::string again = run_command(
      shell_quote(binary("metafs-index")) + " " + shell_quote(src_) +
          " --json --no-progress --shard 2/4 --shared-root shards --shared-cache " +
          shell_quote(pg_.uri()) + " --cache-dir " + shell_quote((tmp_.path() / "fresh").string()),
      &again_status);
  ASSERT_EQ(again_status, 0) << again;
  nlohmann::json second = nlohmann::json::parse(again);
  EXPECT_EQ(second["extractions"], 0u);
  EXPECT_EQ(second["shared"]["hits"], second["data_files"]);
}

TEST_F(SharedCacheTest, AReaderSeesNoRowOfAFileTheyCannotRead) {
  TestUser reader("rd");
  // The documented roles; a writer node that is not a superuser.
  pg_.psql(read_file(fs::path(METAFS_SOURCE_DIR) / "shared_tier" / "roles.sql"));
  pg_.psql("CREATE ROLE node1 LOGIN IN ROLE metafs_writer");
  fs::path tree = tmp_.path() / "perm";
  fs::create_directories(tree / "open");
  fs::create_directories(tree / "closed");
  fs::path dicom = corpus_dir() / "dicom" / "fo-dicom_mr.dcm";
  for (const char* rel : {"open/a.dcm", "closed/b.dcm", "secret.dcm", "acl.dcm", "group.dcm"}) {
    fs::copy_file(dicom, tree / rel);
    ::chmod((tree / rel).c_str(), 0644);
  }
  ::chmod(tree.c_str(), 0755);
  ::chmod(tmp_.path().c_str(), 0711);  // so the user reaches SOURCE, as on a real system
  ::chmod((tree / "open").c_str(), 0755);
  ::chmod((tree / "closed").c_str(), 0700);
  ::chmod((tree / "secret.dcm").c_str(), 0600);
  ::chmod((tree / "group.dcm").c_str(), 0640);
  ASSERT_EQ(::chown((tree / "group.dcm").c_str(), 0, reader.gid()), 0);
  int status = -1;
  std::string out = run_command(
      "setfacl -m u:" + reader.name() + ":--- " + shell_quote(tree / "acl.dcm") + " 2>&1", &status);
  ASSERT_EQ(status, 0) << "setfacl (package acl): " << out;

  std::string index = run_command(shell_quote(binary("metafs-index")) + " " + shell_quote(tree) +
                                      " --json --no-progress --shared-root perm --shared-cache " +
                                      shell_quote(pg_.uri("node1")) + " --cache-dir " +
                                      shell_quote((tmp_.path() / "cache").string()) + " 2>&1",
                                  &status);
  ASSERT_EQ(status, 0) << index;
  EXPECT_EQ(rows("perm"), 5u);
  // The schema belongs to the writers' role, not to the node that made it.
  EXPECT_EQ(pg_.psql("SELECT tableowner FROM pg_tables WHERE schemaname = 'metafs' AND "
                     "tablename = 'roots'"),
            "metafs_writer");

  std::string role = reader.name();
  pg_.psql("CREATE ROLE \"" + role + "\" LOGIN IN ROLE metafs_reader");
  pg_.psql("INSERT INTO metafs.reader_ids VALUES ('" + role + "', " + std::to_string(reader.uid()) +
           ", '{" + std::to_string(reader.gid()) + "}')");
  // Only the two files the user could read; as the user's own role, however it asks.
  EXPECT_EQ(pg_.psql("SELECT string_agg(path, ' ' ORDER BY path) FROM metafs.readable_files "
                     "WHERE root = 'perm'",
                     role),
            "group.dcm open/a.dcm");
  EXPECT_EQ(pg_.psql("SELECT string_agg(path, ' ' ORDER BY path) FROM "
                     "metafs.search('{\"Modality\": \"MR\"}', 'perm')",
                     role),
            "group.dcm open/a.dcm");
  int denied = -1;
  std::string refused = pg_.psql("SELECT count(*) FROM metafs.files", role, &denied);
  EXPECT_NE(denied, 0) << refused;
  EXPECT_NE(refused.find("permission denied"), std::string::npos) << refused;
  // The same rule the kernel applies: each file as the user reads it in SOURCE.
  for (const char* rel : {"open/a.dcm", "closed/b.dcm", "secret.dcm", "acl.dcm", "group.dcm"}) {
    int readable = -1;
    reader.run("head -c1 " + shell_quote(tree / rel) + " >/dev/null", &readable);
    std::string listed = pg_.psql(
        "SELECT count(*) FROM metafs.readable_files WHERE path = '" + std::string(rel) + "'", role);
    EXPECT_EQ(listed, readable == 0 ? "1" : "0") << rel;
  }
  // metafs-query over the shared tier: the same two files, as the user (its own role, or a
  // writer's with the user's uid), all five for root.
  auto query = [&](const std::string& user_uri) {
    return shell_quote(binary("metafs-query")) + " " + shell_quote(tree) +
           " --shared-root perm --shared-cache " + shell_quote(user_uri) + " Modality=MR";
  };
  std::string mine = reader.run(query(pg_.uri(role)) + " | sort");
  EXPECT_EQ(mine, (tree / "group.dcm").string() + "\n" + (tree / "open/a.dcm").string() + "\n");
  EXPECT_EQ(reader.run(query(pg_.uri("node1")) + " | sort"), mine);
  EXPECT_EQ(run_command(query(pg_.uri("node1")) + " | wc -l"), "5\n");
  EXPECT_EQ(
      run_command(query(pg_.uri("node1")) + " 'StudyDate>=20000101' -o PatientID=nobody | wc -l"),
      "5\n");
  int none = -1;
  run_command(query(pg_.uri("node1")) + " Modality=CT", &none);
  EXPECT_EQ(none, 1);  // nothing matched
  // A role no uid is given for sees nothing.
  pg_.psql("CREATE ROLE nobody_mapped LOGIN IN ROLE metafs_reader");
  EXPECT_EQ(pg_.psql("SELECT count(*) FROM metafs.readable_files", "nobody_mapped"), "0");
}

}  // namespace
