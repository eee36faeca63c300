// Path attacks on a root, allow_other mount by an unprivileged user who can write one directory
// in SOURCE (issue 14, item 1): swapping a data file or one of its parent directories for a
// symlink to a root-only file outside SOURCE while metafs reads it, and replacing SOURCE
// itself. The secret is a 0600 FITS file carrying a unique OBJECT value; no read through the
// mount (by root or by the attacker), and no record of the cache file, may ever carry it.
// Each race prints its counts ("[attack] ...") and records them as test properties.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/openat2.h>
#include <lmdb.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "codec.hpp"
#include "corpus.hpp"
#include "isolation_support.hpp"
#include "mount_runner.hpp"
#include "render.hpp"
#include "test_user.hpp"
#include "varint.hpp"

namespace fs = std::filesystem;
using metafs::test::child_pids;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::stats_of;
using metafs::test::status_field;
using metafs::test::TempDir;
using metafs::test::write_file;

using metafs::test::TestUser;

namespace {

using Clock = std::chrono::steady_clock;

std::string shell_quote(const std::string& s) {
  return metafs::test::shell_quote(s);
}
std::string shell_quote(const fs::path& p) {
  return metafs::test::shell_quote(p.string());
}

std::uint64_t occurrences(const std::string& text, const std::string& what) {
  std::uint64_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// The summary line a script printed last ("reads 12 decoy 3 ..."), "" when there is none.
std::string last_line_from(const std::string& output, const std::string& start) {
  std::size_t at = output.rfind(start);
  if (at == std::string::npos) return "";
  return output.substr(at, output.find('\n', at) - at);
}

// ---- the files --------------------------------------------------------------------------

std::string random_tag() {
  std::random_device device;
  std::ostringstream out;
  out << std::hex << device() << device();
  return out.str();
}

// A minimal FITS file: one primary header without data, OBJECT = `object`.
std::string fits_with_object(const std::string& object) {
  auto card = [](std::string text) {
    text.resize(80, ' ');
    return text;
  };
  std::string header = card("SIMPLE  =                    T / conforms to FITS") +
                       card("BITPIX  =                    8") +
                       card("NAXIS   =                    0") + card("OBJECT  = '" + object + "'") +
                       card("END");
  header.resize(2880, ' ');
  return header;
}

void write_private(const fs::path& path, const std::string& bytes, mode_t mode, uid_t uid,
                   gid_t gid) {
  write_file(path, bytes);
  ASSERT_EQ(::chmod(path.c_str(), mode), 0) << path;
  ASSERT_EQ(::lchown(path.c_str(), uid, gid), 0) << path;
}

// ---- the attacker -----------------------------------------------------------------------

// A system user that exists for one test only (parallel tests never share one).

// Exchanges A and B (renameat2 RENAME_EXCHANGE) again and again for SECONDS, holding each
// state for a random 0-2 ms half of the time (so that both short and long windows occur),
// always ending as it began. Every round first puts a fresh copy of TEMPLATE at FRESH (a new
// inode the daemon has not seen) unless FRESH is "-". Prints "swaps N rounds R".
constexpr const char* kSwapper = R"PY(
import ctypes, os, random, sys, time
libc = ctypes.CDLL(None, use_errno=True)
a, b, fresh, template, seconds = sys.argv[1:6]
data = open(template, 'rb').read()
def exchange():
    if libc.renameat2(-100, a.encode(), -100, b.encode(), 2) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), a)
end = time.monotonic() + float(seconds)
swaps = rounds = 0
spare = os.path.join(os.path.dirname(a), '.fresh')
while time.monotonic() < end:
    rounds += 1
    if fresh != '-':
        with open(spare, 'wb') as f:
            f.write(data)
        os.rename(spare, fresh)
    for _ in range(20):
        for _ in range(2):
            exchange()
            swaps += 1
            if random.random() < 0.5:
                time.sleep(random.uniform(0, 0.002))
print('swaps', swaps, 'rounds', rounds)
)PY";

// Reads the views of the data file REL under the mount MNT as fast as it can for SECONDS,
// following symlinks like any program would, and counts what it saw: reads, reads showing
// DECOY, OTHER or SECRET, and prints each leak. Runs as the attacker.
constexpr const char* kUserReader = R"PY(
import os, sys, time
mnt, rel, seconds, decoy, other, secret = sys.argv[1:7]
view = os.path.join(mnt, rel)
counts = dict(tries=0, reads=0, decoy=0, other=0, secret=0, failed=0)
def look(path):
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('latin-1')
    except OSError:
        counts['failed'] += 1
        return
    counts['reads'] += 1
    for key, marker in (('decoy', decoy), ('other', other), ('secret', secret)):
        if marker in text:
            counts[key] += 1
    if secret in text:
        print('LEAK', path, repr(text[:300]))
def walk(path, depth):
    try:
        names = os.listdir(path)
    except OSError:
        counts['failed'] += 1
        return
    for name in names:
        child = os.path.join(path, name)
        if depth < 3 and os.path.isdir(child):
            walk(child, depth + 1)
        else:
            look(child)
end = time.monotonic() + float(seconds)
while time.monotonic() < end:
    counts['tries'] += 1
    for name in ('metadata.txt', 'header.txt', 'metadata.json', 'error'):
        look(os.path.join(view, name))
    walk(os.path.join(view, 'fields'), 0)
print('reads', counts['reads'], 'tries', counts['tries'], 'decoy', counts['decoy'], 'other', counts['other'],
      'secret', counts['secret'], 'failed', counts['failed'])
)PY";

// ---- the reader (root, in this process) -------------------------------------------------

// Opens `rel` beneath `root` without following any symlink: whatever this reads, metafs
// served under a path inside the mount that is not a symlink.
int open_beneath(int root, const std::string& rel, int flags) {
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how));
  return fd < 0 ? -errno : fd;
}

struct Seen {
  std::uint64_t tries = 0;    // rounds over every view of the file
  std::uint64_t reads = 0;    // files read
  std::uint64_t decoy = 0;    // reads showing the decoy's marker
  std::uint64_t other = 0;    // ... the second user file's marker (control)
  std::uint64_t secret = 0;   // ... the secret's: a leak
  std::uint64_t symlink = 0;  // opens refused because the path was a symlink (ELOOP)
  std::vector<std::string> leaks;
};

class RootReader {
 public:
  RootReader(const fs::path& mnt, std::string rel, std::string decoy, std::string other,
             std::string secret)
      : rel_(std::move(rel)),
        decoy_(std::move(decoy)),
        other_(std::move(other)),
        secret_(std::move(secret)) {
    root_ = ::open(mnt.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    EXPECT_GE(root_, 0) << mnt << ": " << std::strerror(errno);
  }
  ~RootReader() {
    if (root_ >= 0) ::close(root_);
  }
  RootReader(const RootReader&) = delete;
  RootReader& operator=(const RootReader&) = delete;

  void run_until(Clock::time_point end) {
    while (Clock::now() < end) {
      ++seen_.tries;
      for (const char* name : {"metadata.txt", "header.txt", "metadata.json", "error"}) {
        look(rel_ + "/" + name);
      }
      walk(rel_ + "/fields", 0);
    }
  }

  const Seen& seen() const { return seen_; }

 private:
  int read(const std::string& rel, std::string* out) {
    int fd = open_beneath(root_, rel, O_RDONLY);
    if (fd < 0) {
      if (fd == -ELOOP) ++seen_.symlink;
      return fd;
    }
    out->clear();
    char buffer[65536];
    ssize_t n;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0) out->append(buffer, n);
    int rc = n < 0 ? -errno : 0;
    ::close(fd);
    return rc;
  }

  void classify(const std::string& rel, const std::string& text) {
    ++seen_.reads;
    if (text.find(decoy_) != std::string::npos) ++seen_.decoy;
    if (!other_.empty() && text.find(other_) != std::string::npos) ++seen_.other;
    if (text.find(secret_) != std::string::npos) {
      ++seen_.secret;
      if (seen_.leaks.size() < 5) seen_.leaks.push_back(rel + ": " + text.substr(0, 400));
    }
  }

  void look(const std::string& rel) {
    std::string text;
    if (read(rel, &text) == 0) classify(rel, text);
  }

  void walk(const std::string& rel, int depth) {
    int fd = open_beneath(root_, rel, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
      if (fd == -ELOOP) ++seen_.symlink;
      return;
    }
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      ::close(fd);
      return;
    }
    std::vector<std::pair<std::string, bool>> entries;
    while (const dirent* entry = ::readdir(dir)) {
      std::string name = entry->d_name;
      if (name == "." || name == "..") continue;
      if (name.find(secret_) != std::string::npos) classify(rel + "/", name);
      entries.emplace_back(name, entry->d_type == DT_DIR);
    }
    ::closedir(dir);
    for (const auto& [name, is_dir] : entries) {
      if (is_dir && depth < 3) {
        walk(rel + "/" + name, depth + 1);
      } else {
        look(rel + "/" + name);
      }
    }
  }

  int root_ = -1;
  std::string rel_, decoy_, other_, secret_;
  Seen seen_;
};

// Every regular file under `dir` (symlinks are not followed) whose name or content carries
// `marker`.
std::vector<std::string> files_carrying(const fs::path& dir, const std::string& marker) {
  std::vector<std::string> found;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->path().filename().string().find(marker) != std::string::npos) {
      found.push_back(it->path().string());
    }
    if (it->is_regular_file(ec) && !it->is_symlink(ec) &&
        read_file(it->path()).find(marker) != std::string::npos) {
      found.push_back(it->path().string());
    }
  }
  return found;
}

// Every extraction record of the cache in `dir` whose text carries `marker` ("path: where"),
// read straight from data.mdb (the daemon is stopped); *records gets how many were decoded.
std::vector<std::string> cache_records_carrying(const fs::path& dir, const std::string& marker,
                                                int* records) {
  *records = 0;
  std::vector<std::string> found;
  MDB_env* env = nullptr;
  EXPECT_EQ(mdb_env_create(&env), MDB_SUCCESS);
  mdb_env_set_maxdbs(env, 4);
  int rc = mdb_env_open(env, dir.c_str(), MDB_RDONLY | MDB_NOLOCK, 0600);
  EXPECT_EQ(rc, MDB_SUCCESS) << dir << ": " << mdb_strerror(rc);
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  MDB_cursor* cursor = nullptr;
  if (rc == MDB_SUCCESS && (rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn)) == MDB_SUCCESS &&
      (rc = mdb_dbi_open(txn, "entries", 0, &dbi)) == MDB_SUCCESS &&
      (rc = mdb_cursor_open(txn, dbi, &cursor)) == MDB_SUCCESS) {
    MDB_val key, value;
    for (rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == MDB_SUCCESS;
         rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
      std::string_view k(static_cast<const char*>(key.mv_data), key.mv_size);
      std::string_view v(static_cast<const char*>(value.mv_data), value.mv_size);
      if (k.empty() || k[0] != 1) continue;  // RecordKind::kExtraction
      std::string path;
      metafs::extract::Extraction extraction;
      try {
        metafs::extract::ByteReader reader(v);
        path = reader.bytes(64 * 1024, "path");
        extraction = metafs::extract::decode_extraction(reader.raw(reader.remaining(), "payload"));
      } catch (const std::exception& e) {
        ADD_FAILURE() << path << ": a cache record that does not decode: " << e.what();
        continue;
      }
      ++*records;
      std::string text =
          metafs::extract::render_txt(extraction.tree) + extraction.header + extraction.error;
      for (const auto& [name, content] : extraction.extra_files) text += name + content;
      if (text.find(marker) != std::string::npos)
        found.push_back(path + ": " + text.substr(0, 300));
    }
    EXPECT_EQ(rc, MDB_NOTFOUND) << mdb_strerror(rc);
  } else {
    ADD_FAILURE() << "cannot read the cache in " << dir << ": " << mdb_strerror(rc);
  }
  if (cursor != nullptr) mdb_cursor_close(cursor);
  if (txn != nullptr) mdb_txn_abort(txn);
  mdb_env_close(env);
  return found;
}

// ---- the fixture ------------------------------------------------------------------------

constexpr int kRaceSeconds = 10;

class PathAttackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Everyone must reach the mount point and SOURCE (MountRunner's own directory is 0700).
    fs::permissions(tmp_.path(), fs::perms(0755));
    std::string tag = random_tag();
    secret_ = "SECRET-" + tag;
    decoy_ = "DECOY-" + tag;
    other_ = "OTHER-" + tag;
    // The secret: root's, 0600, outside SOURCE, in a directory anyone may list.
    outside_ = tmp_.path() / "outside";
    fs::create_directories(outside_);
    ::chmod(outside_.c_str(), 0755);
    write_private(outside_ / "x.fits", fits_with_object(secret_), 0600, 0, 0);
    template_ = tmp_.path() / "decoy.fits";
    write_private(template_, fits_with_object(decoy_), 0644, 0, 0);
    write_private(tmp_.path() / "swapper.py", kSwapper, 0644, 0, 0);
    write_private(tmp_.path() / "reader.py", kUserReader, 0644, 0, 0);
  }

  // SOURCE (root's, 0755) with the attacker's directory u/ in it.
  void make_source(const TestUser& user) {
    src_ = tmp_.path() / "src";
    fs::create_directories(src_ / "u");
    ::chmod(src_.c_str(), 0755);
    ASSERT_EQ(::chown((src_ / "u").c_str(), user.uid(), user.gid()), 0);
    ::chmod((src_ / "u").c_str(), 0755);
  }

  void mount(std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "-o", "allow_other", "--entry-timeout", "0", "--attr-timeout", "0", "--watch-timeout", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    mount_ = std::make_unique<MountRunner>(src_, args, tmp_.path() / "mnt");
    ASSERT_TRUE(mount_->mounted());
    mnt_ = mount_->mountpoint();
  }

  void TearDown() override {
    if (mount_) {
      EXPECT_TRUE(mount_->alive()) << "the daemon died during the test\n" << mount_->log();
    }
    mount_.reset();
  }

  struct Race {
    Seen root;
    std::string swapper;  // the swapper's and the user reader's last lines
    std::string reader;
    std::uint64_t extractions = 0;
    std::uint64_t retried = 0;
    // Extractions the daemon refused because the swap landed between its lstat and its open
    // (the window the attack needs): the open met a symlink, or another inode.
    std::uint64_t daemon_eloop = 0;
    std::uint64_t daemon_changed = 0;
    std::uint64_t daemon_changed_during = 0;    // ... and after its open, during the read
    std::map<std::string, std::uint64_t> user;  // the user reader's counts
  };

  // Runs the swapper (exchanging `a` and `b`, fresh decoys at `fresh`) as `user` while root
  // (in this process) and `user` read the views of the data file `rel` through the mount.
  Race race(const TestUser& user, const fs::path& a, const fs::path& b, const std::string& fresh,
            const std::string& rel, int seconds, const std::string& other = "") {
    Race result;
    auto before = stats_of(*mount_);
    auto end = Clock::now() + std::chrono::seconds(seconds);
    std::thread swapper([&] {
      int status = 0;
      result.swapper =
          user.run("/usr/bin/python3 " + shell_quote((tmp_.path() / "swapper.py")) + " " +
                       shell_quote(a) + " " + shell_quote(b) + " " + shell_quote(fresh) + " " +
                       shell_quote(template_) + " " + std::to_string(seconds),
                   &status);
      EXPECT_EQ(status, 0) << result.swapper;
    });
    std::thread reader([&] {
      int status = 0;
      result.reader = user.run(
          "/usr/bin/python3 " + shell_quote((tmp_.path() / "reader.py")) + " " + shell_quote(mnt_) +
              " " + shell_quote(rel) + " " + std::to_string(seconds) + " " + shell_quote(decoy_) +
              " " + shell_quote(other.empty() ? "-no-other-" : other) + " " + shell_quote(secret_),
          &status);
      EXPECT_EQ(status, 0) << result.reader;
    });
    RootReader root(mnt_, rel, decoy_, other, secret_);
    root.run_until(end);
    swapper.join();
    reader.join();
    result.root = root.seen();
    result.user = {{"reads", 0}, {"tries", 0}, {"decoy", 0}, {"other", 0}, {"secret", 0}};
    std::istringstream words(last_line_from(result.reader, "reads "));
    std::string word;
    std::uint64_t count;
    while (words >> word >> count) result.user[word] = count;
    auto after = stats_of(*mount_);
    result.extractions =
        after["extractions"].get<std::uint64_t>() - before["extractions"].get<std::uint64_t>();
    std::string log = mount_->log();
    result.daemon_eloop = occurrences(log, "cannot open: Too many levels of symbolic links");
    result.daemon_changed = occurrences(log, "the file changed as it was opened");
    result.daemon_changed_during = occurrences(log, "the file changed while it was read");
    result.retried = after["retried"].get<std::uint64_t>() - before["retried"].get<std::uint64_t>();
    return result;
  }

  void report(const std::string& name, const Race& r) {
    std::uint64_t tries = r.root.tries + r.user.at("tries");
    std::uint64_t windows = r.daemon_eloop + r.daemon_changed;
    std::uint64_t leaks = r.root.secret + r.user.at("secret");
    std::cout << "[attack] " << name << ": " << tries << " tries (" << r.root.tries
              << " by root: " << r.root.reads << " reads, decoy " << r.root.decoy << ", other "
              << r.root.other << ", symlink refused " << r.root.symlink << "; "
              << r.user.at("tries") << " by the user: " << last_line_from(r.reader, "reads ")
              << "), " << last_line_from(r.swapper, "swaps ") << "; daemon: " << r.extractions
              << " extractions, " << windows << " refused in the check-to-open window ("
              << r.daemon_eloop << " met a symlink, " << r.daemon_changed << " another inode), "
              << r.daemon_changed_during << " changed during the read, " << r.retried
              << " retried; " << leaks << " leaks\n";
    RecordProperty(name + "_tries", std::to_string(tries));
    RecordProperty(name + "_extractions", std::to_string(r.extractions));
    RecordProperty(name + "_windows", std::to_string(windows));
    RecordProperty(name + "_leaks", std::to_string(leaks));
  }

  // The race ran: the readers saw the decoy and the daemon extracted again and again.
  void expect_raced(const Race& r) {
    EXPECT_GT(r.root.tries, 100u);
    EXPECT_GT(r.root.decoy, 0u) << "the root reader never saw the decoy";
    EXPECT_GT(r.user.at("decoy"), 0u) << r.reader;
    EXPECT_GT(r.extractions, 50u);
    EXPECT_NE(r.swapper.find("swaps "), std::string::npos) << r.swapper;
  }

  // The swap landed between the daemon's lstat and its open, where it used to leak (the
  // daemon's open met the symlink, or the inode behind it).
  // race(), again while the daemon never met the check-to-open window (at most three rounds:
  // on a loaded machine, with the kernel keeping names, a round may not reach it); every
  // round is checked for leaks, and the window counts are the mount's, so they add up.
  Race race_into_window(const TestUser& user, const fs::path& a, const fs::path& b,
                        const std::string& fresh, const std::string& rel, int seconds) {
    Race r;
    for (int round = 0; round < 3; ++round) {
      r = race(user, a, b, fresh, rel, seconds);
      if (r.daemon_eloop + r.daemon_changed > 0) break;
      expect_no_leak(r);
    }
    return r;
  }

  void expect_window_hit(const Race& r) {
    EXPECT_GT(r.daemon_eloop + r.daemon_changed, 0u) << "the race never hit the window";
  }

  void expect_no_leak(const Race& r) {
    EXPECT_EQ(r.root.secret, 0u);
    for (const auto& leak : r.root.leaks) ADD_FAILURE() << "root read the secret: " << leak;
    EXPECT_EQ(r.user.at("secret"), 0u) << r.reader;
    EXPECT_EQ(files_carrying(mnt_, secret_), std::vector<std::string>{});
  }

  TempDir tmp_;
  std::string secret_, decoy_, other_;
  fs::path outside_, template_, src_, mnt_;
  std::unique_ptr<MountRunner> mount_;
};

// ---- 1. the data file swapped for a symlink ---------------------------------------------

TEST_F(PathAttackTest, FileSwappedForASymlinkNeverShowsTheTarget) {
  TestUser user("f");
  make_source(user);
  fs::path u = src_ / "u";
  write_private(u / "x.fits", fits_with_object(decoy_), 0644, user.uid(), user.gid());
  fs::create_symlink(outside_ / "x.fits", u / "evil");
  ::lchown((u / "evil").c_str(), user.uid(), user.gid());
  // Native behaviour first: the attacker cannot read the secret.
  int status = 0;
  user.run("cat " + shell_quote(outside_ / "x.fits"), &status);
  ASSERT_NE(status, 0);
  mount({"--no-cache"});
  Race r = race_into_window(user, u / "x.fits", u / "evil", (u / "x.fits").string(), "u/x.fits",
                            kRaceSeconds);
  report("file_swap", r);
  expect_window_hit(r);
  expect_raced(r);
  expect_no_leak(r);
}

// The same race with the disk cache; the cache file and a restarted mount on it carry nothing
// of the secret either.
TEST_F(PathAttackTest, FileSwapLeavesNothingInTheCache) {
  TestUser user("c");
  make_source(user);
  fs::path u = src_ / "u";
  write_private(u / "x.fits", fits_with_object(decoy_), 0644, user.uid(), user.gid());
  fs::create_symlink(outside_ / "x.fits", u / "evil");
  ::lchown((u / "evil").c_str(), user.uid(), user.gid());
  fs::path cache = tmp_.path() / "cache";
  mount({"--cache-dir", cache.string()});
  Race r = race_into_window(user, u / "x.fits", u / "evil", (u / "x.fits").string(), "u/x.fits", 8);
  report("file_swap_cached", r);
  expect_window_hit(r);
  expect_raced(r);
  expect_no_leak(r);
  ASSERT_EQ(mount_->stop(), 0) << mount_->log();

  int records = 0;
  std::size_t with_secret = cache_records_carrying(cache, secret_, &records).size();
  EXPECT_EQ(cache_records_carrying(cache, secret_, &records), std::vector<std::string>{});
  // The scan reads what the race cached: the decoy's records.
  EXPECT_GT(cache_records_carrying(cache, decoy_, &records).size(), 0u);
  EXPECT_GT(records, 0) << "the race cached nothing: the cache check checked nothing";
  std::cout << "[attack] file_swap_cached: " << records << " extraction records in the cache, "
            << with_secret << " with the secret\n";
  RecordProperty("file_swap_cached_records", std::to_string(records));

  mount({"--cache-dir", cache.string()});
  EXPECT_NE(read_file(mnt_ / "u/x.fits/metadata.txt").find(decoy_), std::string::npos);
  EXPECT_EQ(files_carrying(mnt_, secret_), std::vector<std::string>{});
  // What the swap left at "evil" (the symlink) is shown as a symlink.
  EXPECT_TRUE(fs::is_symlink(mnt_ / "u/evil"));
}

// ---- 2. a parent directory swapped for a symlink ----------------------------------------

TEST_F(PathAttackTest, ParentDirectorySwappedForASymlinkNeverShowsTheTarget) {
  TestUser user("d");
  make_source(user);
  fs::path u = src_ / "u";
  fs::create_directories(u / "d");
  ::chown((u / "d").c_str(), user.uid(), user.gid());
  write_private(u / "d/x.fits", fits_with_object(decoy_), 0644, user.uid(), user.gid());
  // outside/ holds the secret under the same name.
  fs::create_symlink(outside_, u / "evil");
  ::lchown((u / "evil").c_str(), user.uid(), user.gid());
  fs::path cache = tmp_.path() / "cache";
  mount({"--cache-dir", cache.string()});
  Race r = race_into_window(user, u / "d", u / "evil", (u / "d/x.fits").string(), "u/d/x.fits",
                            kRaceSeconds);
  report("dir_swap", r);
  expect_window_hit(r);
  expect_raced(r);
  expect_no_leak(r);
  ASSERT_EQ(mount_->stop(), 0) << mount_->log();
  int records = 0;
  EXPECT_EQ(cache_records_carrying(cache, secret_, &records), std::vector<std::string>{});
  EXPECT_GT(cache_records_carrying(cache, decoy_, &records).size(), 0u);
  EXPECT_GT(records, 0);
  RecordProperty("dir_swap_records", std::to_string(records));
  mount({"--cache-dir", cache.string()});
  EXPECT_NE(read_file(mnt_ / "u/d/x.fits/metadata.txt").find(decoy_), std::string::npos);
  EXPECT_EQ(files_carrying(mnt_, secret_), std::vector<std::string>{});
}

// ---- the control: the same loops do swap under the readers ------------------------------

// A plain swap between two files the attacker owns: the readers see both markers, so the
// loops above really put the swap under the reads (and no marker check is vacuous).
TEST_F(PathAttackTest, ControlAPlainSwapIsSeenByTheReaders) {
  TestUser user("k");
  make_source(user);
  fs::path u = src_ / "u";
  write_private(u / "x.fits", fits_with_object(decoy_), 0644, user.uid(), user.gid());
  write_private(u / "evil", fits_with_object(other_), 0644, user.uid(), user.gid());
  mount({"--no-cache"});
  Race r = race(user, u / "x.fits", u / "evil", "-", "u/x.fits", 5, other_);
  report("control_plain_swap", r);
  expect_raced(r);
  EXPECT_GT(r.root.other, 0u) << "the root reader never saw the swapped-in file";
  EXPECT_GT(r.user.at("other"), 0u) << r.reader;
  expect_no_leak(r);
}

// ---- 3. SOURCE itself replaced ----------------------------------------------------------

TEST_F(PathAttackTest, SourceReplacedKeepsShowingTheOriginalTree) {
  TestUser user("s");
  // SOURCE's parent belongs to the attacker; SOURCE and its files to root.
  fs::path parent = tmp_.path() / "parent";
  fs::create_directories(parent);
  ASSERT_EQ(::chown(parent.c_str(), user.uid(), user.gid()), 0);
  ::chmod(parent.c_str(), 0755);
  src_ = parent / "src";
  fs::create_directories(src_);
  ::chmod(src_.c_str(), 0755);
  write_private(src_ / "a.fits", fits_with_object(decoy_), 0644, 0, 0);
  mount({});
  ASSERT_NE(read_file(mnt_ / "a.fits/metadata.txt").find(decoy_), std::string::npos);

  auto as_user = [&](const std::string& command) {
    int status = 0;
    std::string out = user.run("sh -c " + shell_quote(command), &status);
    EXPECT_EQ(status, 0) << command << ": " << out;
  };
  auto names = [&] {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(mnt_)) {
      out.push_back(entry.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  const std::string p = shell_quote(parent);
  as_user("cd " + p + " && mv src old");
  struct Replacement {
    const char* what;
    std::string command;
  };
  std::vector<Replacement> replacements = {
      {"a symlink to /etc", "cd " + p + " && ln -s /etc src"},
      {"a symlink to the secret's directory",
       "cd " + p + " && rm src && ln -s " + shell_quote(outside_) + " src"},
      {"a directory of the attacker's",
       "cd " + p + " && rm src && mkdir src && printf x > src/new.txt && cp " +
           shell_quote(tmp_.path() / "decoy.fits") + " src/x.fits && ln -s " +
           shell_quote(outside_ / "x.fits") + " src/a.fits"},
  };
  for (const auto& replacement : replacements) {
    SCOPED_TRACE(replacement.what);
    as_user(replacement.command);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(names(), (std::vector<std::string>{".metafs", "a.fits"}));
      EXPECT_TRUE(fs::is_directory(fs::symlink_status(mnt_ / "a.fits")));
      EXPECT_NE(read_file(mnt_ / "a.fits/metadata.txt").find(decoy_), std::string::npos);
      EXPECT_FALSE(fs::exists(fs::symlink_status(mnt_ / "passwd")));
      EXPECT_FALSE(fs::exists(fs::symlink_status(mnt_ / "x.fits")));
      EXPECT_FALSE(fs::exists(fs::symlink_status(mnt_ / "new.txt")));
      EXPECT_EQ(files_carrying(mnt_, secret_), std::vector<std::string>{});
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  // A file added to the original tree (now parent/old) still shows: the mount follows the
  // directory it opened, wherever it went.
  write_private(parent / "old/b.fits", fits_with_object(decoy_), 0644, 0, 0);
  EXPECT_NE(read_file(mnt_ / "b.fits/metadata.txt").find(decoy_), std::string::npos);
}

// ---- 4. the workers' identity -----------------------------------------------------------

TEST_F(PathAttackTest, WorkersRunAsNobodyWithoutCapabilities) {
  src_ = tmp_.path() / "src";
  fs::create_directories(src_);
  ::chmod(src_.c_str(), 0755);
  write_private(src_ / "a.fits", fits_with_object(decoy_), 0644, 0, 0);
  // The account the daemon picks by default (as fs::resolve_worker_account).
  const struct passwd* nobody = ::getpwnam("metafs-worker");
  if (nobody == nullptr) nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  const std::string uid = std::to_string(nobody->pw_uid);
  const std::string gid = std::to_string(nobody->pw_gid);
  ASSERT_NE(nobody->pw_uid, 0u);
  ASSERT_EQ(::geteuid(), 0u) << "the test mounts as root";
  mount({"--workers", "2"});
  ASSERT_NE(read_file(mnt_ / "a.fits/metadata.txt").find(decoy_), std::string::npos);

  auto workers = [&] {
    std::vector<pid_t> out;
    for (pid_t pid : child_pids(mount_->pid())) {
      std::string comm = read_file("/proc/" + std::to_string(pid) + "/comm");
      if (comm == "metafs-extract\n") out.push_back(pid);
    }
    return out;
  };
  // Both workers past their start-up (sandboxing is the last step before the hello).
  auto deadline = Clock::now() + std::chrono::seconds(10);
  auto ready = [&] {
    auto pids = workers();
    if (pids.size() != 2) return false;
    for (pid_t pid : pids) {
      if (status_field(pid, "Seccomp") != "2" || status_field(pid, "NoNewPrivs") != "1")
        return false;
    }
    return true;
  };
  while (!ready() && Clock::now() < deadline) ::usleep(10000);
  auto pids = workers();
  ASSERT_EQ(pids.size(), 2u);
  const std::string ids = uid + "\t" + uid + "\t" + uid + "\t" + uid;
  const std::string gids = gid + "\t" + gid + "\t" + gid + "\t" + gid;
  for (pid_t pid : pids) {
    SCOPED_TRACE("worker " + std::to_string(pid));
    EXPECT_EQ(status_field(pid, "Uid"), ids);
    EXPECT_EQ(status_field(pid, "Gid"), gids);
    EXPECT_EQ(status_field(pid, "Groups"), "");
    for (const char* cap : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
      EXPECT_EQ(status_field(pid, cap), "0000000000000000") << cap;
    }
    EXPECT_EQ(status_field(pid, "NoNewPrivs"), "1");
    EXPECT_EQ(status_field(pid, "Seccomp"), "2");
    // Not dumpable: the kernel gives its /proc entries to root, not to the worker's uid.
    struct stat st {};
    ASSERT_EQ(::stat(("/proc/" + std::to_string(pid) + "/status").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
  }
}

// ---- 5. a symlink inside SOURCE ---------------------------------------------------------

TEST_F(PathAttackTest, SymlinksInSourceAreShownNeverFollowed) {
  TestUser user("l");
  make_source(user);
  fs::path u = src_ / "u";
  write_private(u / "x.fits", fits_with_object(decoy_), 0644, user.uid(), user.gid());
  fs::create_symlink(outside_ / "x.fits", u / "abs.fits");
  fs::create_symlink("../../outside/x.fits", u / "rel.fits");
  fs::create_symlink(outside_, u / "dir");
  fs::create_symlink("../../outside", u / "reldir");
  mount({});
  int root = ::open(mnt_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(root, 0);
  for (const char* name : {"abs.fits", "rel.fits", "dir", "reldir"}) {
    SCOPED_TRACE(name);
    fs::path in_mount = mnt_ / "u" / name;
    EXPECT_TRUE(fs::is_symlink(in_mount));
    std::error_code ec;
    EXPECT_EQ(fs::read_symlink(in_mount, ec), fs::read_symlink(u / name));
    // Through metafs only (no symlink followed): refused.
    std::string rel = std::string("u/") + name;
    for (const std::string& view :
         {rel + "/metadata.txt", rel + "/x.fits/metadata.txt", rel + "/header.txt"}) {
      int fd = open_beneath(root, view, O_RDONLY);
      EXPECT_EQ(fd, -ELOOP) << view;
      if (fd >= 0) {
        ::close(fd);
        EXPECT_EQ(read_file(mnt_ / view).find(secret_), std::string::npos)
            << view << " shows the secret: " << read_file(mnt_ / view);
      }
    }
    // Following the symlink the kernel leaves the mount: the real secret is a file, not a
    // view; nothing under the symlink's name carries the secret's metadata.
    for (const std::string& view : {rel + "/metadata.txt", rel + "/x.fits/metadata.txt",
                                    rel + "/x.fits/header.txt", rel + "/x.fits/fields"}) {
      EXPECT_FALSE(fs::exists(mnt_ / view, ec)) << view;
      int status = 0;
      std::string out = user.run("cat " + shell_quote(mnt_ / view), &status);
      EXPECT_NE(status, 0) << view;
      EXPECT_EQ(out.find(secret_), std::string::npos) << view << ": " << out;
    }
  }
  ::close(root);
  // The directory listing shows them as symlinks, the decoy as a data directory.
  std::map<std::string, unsigned char> types;
  DIR* dir = ::opendir((mnt_ / "u").c_str());
  ASSERT_NE(dir, nullptr);
  while (const dirent* entry = ::readdir(dir)) types[entry->d_name] = entry->d_type;
  ::closedir(dir);
  for (const char* name : {"abs.fits", "rel.fits", "dir", "reldir"}) {
    EXPECT_EQ(types[name], DT_LNK) << name;
  }
  EXPECT_EQ(types["x.fits"], DT_DIR);
  EXPECT_NE(read_file(mnt_ / "u/x.fits/metadata.txt").find(decoy_), std::string::npos);
  EXPECT_EQ(files_carrying(mnt_, secret_), std::vector<std::string>{});
}

}  // namespace
