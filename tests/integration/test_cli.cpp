// The command line as an admin meets it: exit statuses, refused values, what metafs refuses to
// mount on, logs (a file re-opened on SIGHUP, err priority for the journal), paths resolved
// before detaching, what fusermount3 said, and metafs-index --instance.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "corpus.hpp"
#include "mount_runner.hpp"
#include "test_user.hpp"

namespace fs = std::filesystem;
using metafs::test::binary;
using metafs::test::corpus_dir;
using metafs::test::is_live_mount;
using metafs::test::is_mount_point;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;
using metafs::test::TestUser;
using metafs::test::write_file;

namespace {

// The daemon's children (its workers), whichever of its threads spawned them, sorted.
std::vector<pid_t> children_of(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "children");
    pid_t child;
    while (in >> child) out.push_back(child);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Whether `pid` has SIGHUP ignored (a worker once it has set up its sandbox).
bool ignores_sighup(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("SigIgn:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) & 1) != 0;
  }
  return false;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.path() / "src";
    mnt_ = tmp_.path() / "mnt";
    fs::create_directories(src_);
    fs::create_directories(mnt_);
    write_file(src_ / "plain.txt", "plain bytes\n");
    fs::copy_file(corpus_dir() / "fits" / "test_i10.fits", src_ / "image.fits");
  }
  void TearDown() override {
    if (is_mount_point(mnt_)) run_command("fusermount3 -u -z " + shell_quote(mnt_) + " 2>&1");
  }

  // Runs `program ARGS` (ARGS already quoted); stdout and stderr together.
  static std::string run(const std::string& program, const std::string& args, int* status) {
    return run_command(shell_quote(binary(program)) + " " + args + " 2>&1", status);
  }
  std::string paths() const { return shell_quote(src_) + " " + shell_quote(mnt_); }

  TempDir tmp_;
  fs::path src_, mnt_;
};

TEST_F(Cli, UsageErrorsExitTwoWithTheProgramsName) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"metafs", "--no-such-option " + paths()},
      {"metafs", shell_quote(src_)},                   // MOUNTPOINT missing
      {"metafs", paths() + " extra"},                  // one argument too many
      {"metafs", "--isolation sometimes " + paths()},  // not a choice
      {"metafs", "--workers many " + paths()},         // not a number
      {"metafs-index", "--no-such-option " + shell_quote(src_)},
      {"metafs-index", ""},  // SOURCE missing
      {"metafs-index", "--workers 0 " + shell_quote(src_)},
      {"metafs-extract", "--no-such-option x"},
      {"metafs-extract", ""},  // FILE missing
  };
  for (const auto& [program, args] : cases) {
    int status = -1;
    std::string out = run(program, args, &status);
    EXPECT_EQ(status, 2) << program << " " << args << "\n" << out;
    EXPECT_EQ(out.rfind(program + ": ", 0), 0u) << program << " " << args << "\n" << out;
  }
  for (const char* program : {"metafs", "metafs-index", "metafs-extract"}) {
    int status = -1;
    run(program, "--help", &status);
    EXPECT_EQ(status, 0) << program;
  }
  EXPECT_FALSE(is_mount_point(mnt_));
}

TEST_F(Cli, OutOfRangeValuesAreRefusedWithTheRange) {
  // option value → what the message must say
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"--memory-limit", "0", "at least 1M"},
      {"--memory-limit", "1K", "at least 1M"},
      {"--worker-memory", "1K", "at least 64M"},
      {"--cache-size", "0", "between 1M and 4T"},
      {"--cache-size", "1", "between 1M and 4T"},
      {"--cache-size", "100T", "between 1M and 4T"},
      {"--cache-size", "lots", "--cache-size"},
      {"--workers", "0", "not in range 1 to 256"},
      {"--workers", "100000", "not in range 1 to 256"},
      {"--extract-timeout", "0", "--extract-timeout"},
      {"--extract-timeout", "-5", "--extract-timeout"},
      {"--worker-recycle", "0", "--worker-recycle"},
      {"--prefetch", "1000000", "--prefetch"},
      {"--entry-timeout", "-1", "--entry-timeout"},
      {"--attr-timeout", "1e9", "--attr-timeout"},
      {"--watch-timeout", "-3", "--watch-timeout"},
      {"--max-watches", "-1", "--max-watches"},
  };
  for (const auto& [option, value, says] : cases) {
    int status = -1;
    std::string out = run("metafs", option + " " + shell_quote(value) + " " + paths(), &status);
    EXPECT_EQ(status, 2) << option << " " << value << "\n" << out;
    EXPECT_EQ(out.rfind("metafs: ", 0), 0u) << out;
    EXPECT_NE(out.find(says), std::string::npos) << option << " " << value << "\n" << out;
    EXPECT_FALSE(is_mount_point(mnt_)) << option << " " << value;
  }
  // metafs-index shares the declarations and the checks.
  int status = -1;
  std::string out = run("metafs-index", "--cache-size 100T " + shell_quote(src_), &status);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("between 1M and 4T"), std::string::npos) << out;
  // The ends of the ranges are accepted.
  MountRunner mount(src_, {"--memory-limit", "1M", "--worker-memory", "64M", "--cache-size", "1M",
                           "--workers", "1", "--cache-dir", (tmp_.path() / "c").string()});
  ASSERT_TRUE(mount.mounted()) << mount.log();
  EXPECT_EQ(read_file(mount.mountpoint() / "image.fits" / "fields" / "0" / "NAXIS"), "0\n");
}

TEST_F(Cli, RefusesALiveMountAndANonEmptyDirectory) {
  // A live mount of another metafs: refused, and left serving.
  MountRunner first(src_, {"--no-cache"}, mnt_);
  ASSERT_TRUE(first.mounted()) << first.log();
  int status = -1;
  std::string out = run("metafs", "-f --no-cache " + paths(), &status);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("is already a mount point"), std::string::npos) << out;
  EXPECT_TRUE(is_live_mount(mnt_));
  EXPECT_EQ(read_file(mnt_ / "plain.txt"), "plain bytes\n");
  EXPECT_EQ(first.stop(), 0);

  // A tmpfs (any type of mount): refused, and still there.
  if (::geteuid() == 0) {
    ASSERT_EQ(run_command("mount -t tmpfs metafs-test " + shell_quote(mnt_) + " 2>&1", &status),
              "");
    write_file(mnt_ / "marker", "mine\n");
    out = run("metafs", "-f --no-cache -o nonempty " + paths(), &status);
    EXPECT_EQ(status, 2) << out;
    EXPECT_NE(out.find("is already a mount point"), std::string::npos) << out;
    EXPECT_EQ(read_file(mnt_ / "marker"), "mine\n");
    run_command("umount " + shell_quote(mnt_));
  }

  // A non-empty directory: refused without -o nonempty, its files still visible.
  write_file(mnt_ / "hidden.txt", "would be hidden\n");
  out = run("metafs", "-f --no-cache " + paths(), &status);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("is not empty"), std::string::npos) << out;
  EXPECT_NE(out.find("-o nonempty"), std::string::npos) << out;
  EXPECT_FALSE(is_mount_point(mnt_));
  // -o nonempty mounts anyway (metafs's own option: libfuse 3 would refuse it).
  MountRunner over(src_, {"--no-cache", "-o", "nonempty"}, mnt_);
  ASSERT_TRUE(over.mounted()) << over.log();
  EXPECT_EQ(read_file(mnt_ / "plain.txt"), "plain bytes\n");
}

TEST_F(Cli, RelativePathsAreResolvedBeforeTheDaemonDetaches) {
  // In the background (no -f) the daemon runs in /: a relative --cache-dir or --log-file
  // must already name the directory it was started in.
  int status = -1;
  std::string out =
      run_command("cd " + shell_quote(tmp_.path()) + " && " + shell_quote(binary("metafs")) +
                      " --cache-dir relcache --log-file rel.log src mnt 2>&1",
                  &status);
  ASSERT_EQ(status, 0) << out;
  ASSERT_TRUE(is_live_mount(mnt_));
  EXPECT_EQ(read_file(mnt_ / "image.fits" / "fields" / "0" / "NAXIS"), "0\n");
  EXPECT_TRUE(fs::is_directory(tmp_.path() / "relcache")) << out;
  EXPECT_NE(read_file(tmp_.path() / "rel.log").find("mounted"), std::string::npos);
  EXPECT_EQ(run_command("fusermount3 -u " + shell_quote(mnt_) + " 2>&1", &status), "");
}

TEST_F(Cli, SighupReopensTheLogFileAndKeepsServing) {
  fs::path log = tmp_.path() / "metafs.log";
  MountRunner mount(src_, {"--no-cache", "--log-file", log.string()}, mnt_);
  ASSERT_TRUE(mount.mounted()) << mount.log();
  EXPECT_NE(read_file(log).find("mounted"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // logrotate: moved away, then SIGHUP; a new file takes the lines that follow.
  fs::rename(log, tmp_.path() / "metafs.log.1");
  // `systemctl kill -s HUP` reaches every process of the unit: the workers stay too.
  EXPECT_EQ(read_file(mnt_ / "plain.txt"), "plain bytes\n");
  EXPECT_EQ(read_file(mnt_ / "image.fits" / "format"), "fits\n");  // a worker has started
  std::vector<pid_t> workers;
  auto set_up = [&] {
    return !workers.empty() && std::all_of(workers.begin(), workers.end(), ignores_sighup);
  };
  // Started and past their set-up; 10 s, for a machine busy with the other tests (a worker's
  // SIGHUP before its set-up would end it, and the test).
  for (int i = 0; i < 500; ++i) {
    workers = children_of(mount.pid());
    if (set_up()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(set_up()) << workers.size() << " worker(s), not all past their set-up after 10 s";
  for (pid_t worker : workers) ::kill(worker, SIGHUP);
  ASSERT_EQ(::kill(mount.pid(), SIGHUP), 0);
  // The new file is created before the line that says so is written into it.
  const std::string reopened =
      "SIGHUP from pid " + std::to_string(::getpid()) + ": log file re-opened; still mounted";
  for (int i = 0;
       i < 200 && (!fs::exists(log) || read_file(log).find(reopened) == std::string::npos); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(fs::exists(log));
  EXPECT_TRUE(mount.alive());
  EXPECT_TRUE(is_live_mount(mnt_));
  EXPECT_EQ(read_file(mnt_ / "image.fits" / "fields" / "0" / "NAXIS"), "0\n");
  std::vector<pid_t> now = children_of(mount.pid());
  for (pid_t worker : workers) {
    EXPECT_TRUE(std::binary_search(now.begin(), now.end(), worker)) << "worker " << worker;
  }
  EXPECT_NE(read_file(log).find(reopened), std::string::npos) << read_file(log);
  EXPECT_EQ(mount.stop(), 0);
  EXPECT_NE(read_file(log).find("unmounting"), std::string::npos);
}

TEST_F(Cli, ErrorsToTheJournalCarryTheErrPriority) {
  // systemd says which stream is the journal by its device and inode (JOURNAL_STREAM); an
  // error line then starts with <3> (SyslogLevelPrefix=) and journalctl -p err shows it.
  fs::path err = tmp_.path() / "stderr";
  write_file(err, "");
  struct stat st {};
  ASSERT_EQ(::stat(err.c_str(), &st), 0);
  std::string stream = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  int status = -1;
  run_command("JOURNAL_STREAM=" + stream + " " + shell_quote(binary("metafs")) + " " +
                  shell_quote(tmp_.path() / "missing") + " " + shell_quote(mnt_) + " 2>>" +
                  shell_quote(err),
              &status);
  EXPECT_EQ(status, 2);
  EXPECT_EQ(read_file(err).rfind("<3>metafs: source '", 0), 0u) << read_file(err);
  // Not the journal: no prefix.
  std::string out =
      run("metafs", shell_quote(tmp_.path() / "missing") + " " + shell_quote(mnt_), &status);
  EXPECT_EQ(out.rfind("metafs: source '", 0), 0u) << out;
}

TEST_F(Cli, AFailedMountSaysWhatFusermountSaid) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root to run metafs as another user";
  ASSERT_EQ(run_command("grep -qs '^[[:space:]]*user_allow_other' /etc/fuse.conf; echo $?"), "1\n")
      << "this test needs /etc/fuse.conf without user_allow_other";
  TestUser user("cli");
  fs::permissions(tmp_.path(), fs::perms::others_read | fs::perms::others_exec,
                  fs::perm_options::add);
  ASSERT_EQ(::chown(mnt_.c_str(), user.uid(), user.gid()), 0);
  int status = -1;
  std::string out =
      user.run(shell_quote(binary("metafs")) + " -f --no-cache -o allow_other " + paths(), &status);
  EXPECT_EQ(status, 1) << out;
  // What fusermount3 or libfuse said follows on the same line, not a guess.
  std::string says = "cannot mount on " + mnt_.string() + ": fus";
  EXPECT_NE(out.find(says), std::string::npos) << out;
  EXPECT_EQ(out.find("/dev/fuse available"), std::string::npos) << out;
  struct stat fuse_device {};
  if (::stat("/dev/fuse", &fuse_device) == 0 && (fuse_device.st_mode & S_IROTH) != 0) {
    // Users may open /dev/fuse: fusermount3 itself refuses allow_other.
    EXPECT_NE(out.find("user_allow_other"), std::string::npos) << out;
  }
  EXPECT_FALSE(is_mount_point(mnt_));
}

// metafs-index --instance NAME warms what metafs@NAME reads: SOURCE and OPTIONS from
// NAME.conf, the cache in the unit's CacheDirectory= (/var/cache/metafs/NAME) with the
// daemon's own per-SOURCE subdirectory.
TEST_F(Cli, IndexInstanceWarmsWhatTheUnitReads) {
  ASSERT_EQ(::geteuid(), 0u) << "needs root: the unit's cache is under /var/cache";
  std::string name = "metafs-test-" + std::to_string(::getpid());
  fs::path conf_dir = tmp_.path() / "etc";
  fs::create_directories(conf_dir);
  write_file(conf_dir / (name + ".conf"),
             "# as metafs.conf.example\nSOURCE=" + src_.string() + "\nMOUNTPOINT=" + mnt_.string() +
                 "\nOPTIONS=\"-o allow_other --workers 2 --prefetch 4\"\n");
  fs::path unit_cache = fs::path("/var/cache/metafs") / name;
  struct Cleanup {
    fs::path dir;
    ~Cleanup() { fs::remove_all(dir); }
  } cleanup{unit_cache};

  int status = -1;
  // The config directory from the environment, as documented.
  std::string out = run_command("METAFS_CONFIG_DIR=" + shell_quote(conf_dir) + " " +
                                    shell_quote(binary("metafs-index")) + " --instance " + name +
                                    " --json --no-progress",
                                &status);
  ASSERT_EQ(status, 0) << out;
  nlohmann::json summary = nlohmann::json::parse(out);
  EXPECT_EQ(summary["extractions"], 1u) << out;
  EXPECT_EQ(summary["workers"], 2u) << out;  // from the instance's OPTIONS
  EXPECT_EQ(fs::path(summary["cache_dir"].get<std::string>()).parent_path(), unit_cache) << out;

  // The daemon as the unit starts it ($CACHE_DIRECTORY from CacheDirectory=) extracts nothing.
  ::setenv("CACHE_DIRECTORY", unit_cache.c_str(), 1);
  {
    MountRunner mount(src_, {}, mnt_);
    ::unsetenv("CACHE_DIRECTORY");
    ASSERT_TRUE(mount.mounted()) << mount.log();
    EXPECT_EQ(read_file(mnt_ / "image.fits" / "fields" / "0" / "NAXIS"), "0\n");
    nlohmann::json stats = metafs::test::stats_of(mount);
    EXPECT_EQ(stats["extractions"], 0u) << stats.dump();
  }

  // --config-dir, and the command line wins over OPTIONS.
  out = run("metafs-index",
            "--instance " + name + " --config-dir " + shell_quote(conf_dir) +
                " --workers 1 --json --no-progress",
            &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_EQ(nlohmann::json::parse(out)["workers"], 1u);
  EXPECT_EQ(nlohmann::json::parse(out)["extractions"], 0u);

  // A missing instance is a configuration error.
  out = run("metafs-index", "--instance no-such-instance --config-dir " + shell_quote(conf_dir),
            &status);
  EXPECT_EQ(status, 2) << out;
  EXPECT_NE(out.find("no-such-instance.conf"), std::string::npos) << out;
}

}  // namespace
