// A reader who holds an inode of the mount (an open file, a working directory) while the name
// behind it is given to another user's file must never read that file: metafs finds nodes by
// path, so what it opens or looks up below a node must still be the inode the kernel checked
// the reader's permissions against. Real mount as root with allow_other, two test users.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

#include "corpus.hpp"
#include "mount_runner.hpp"
#include "temp_dir.hpp"
#include "test_user.hpp"

namespace fs = std::filesystem;
using metafs::test::MountRunner;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;
using metafs::test::TestUser;
using metafs::test::write_file;

namespace {

// A primary HDU with no data and OBJECT = `object`.
std::string minimal_fits(const std::string& object) {
  std::string header;
  for (std::string card : {std::string("SIMPLE  =                    T"),
                           std::string("BITPIX  =                    8"),
                           std::string("NAXIS   =                    0"),
                           "OBJECT  = '" + object + "'", std::string("END")}) {
    card.resize(80, ' ');
    header += card;
  }
  header.resize(2880, ' ');
  return header;
}

void chown_to(const fs::path& path, const TestUser& user) {
  ASSERT_EQ(::chown(path.c_str(), user.uid(), user.gid()), 0) << path;
}

class HeldInodes : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_FAIL() << "needs root (allow_other, test users)";
    // A directory both may write, as a project group directory would be.
    shared_ = tmp_.path() / "src" / "shared";
    fs::create_directories(shared_);
    fs::permissions(tmp_.path(), fs::perms::owner_all | fs::perms::group_read |
                                     fs::perms::group_exec | fs::perms::others_read |
                                     fs::perms::others_exec);
    fs::permissions(shared_, fs::perms::all);
    fs::create_directory(shared_ / "bobdir");
    fs::create_directory(shared_ / "alicedir");
    chown_to(shared_ / "bobdir", bob_);
    chown_to(shared_ / "alicedir", alice_);
    fs::permissions(shared_ / "alicedir",
                    fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  }

  // A private file of alice's (0600), a readable one of bob's, both named `name`.
  void write_pair(const std::string& name, const std::string& bob_text,
                  const std::string& alice_text) {
    write_file(shared_ / "bobdir" / name, bob_text);
    chown_to(shared_ / "bobdir" / name, bob_);
    write_file(shared_ / "alicedir" / name, alice_text);
    chown_to(shared_ / "alicedir" / name, alice_);
    fs::permissions(shared_ / "alicedir" / name, fs::perms::owner_read | fs::perms::owner_write);
  }

  // bob's directory and alice's exchange names (renameat2 RENAME_EXCHANGE, as root here: a
  // user of the group directory could do the same with two renames).
  void swap_directories() {
    std::string out = run_command(
        "/usr/bin/python3 -c " +
        shell_quote(
            "import ctypes,sys; l=ctypes.CDLL(None,use_errno=True); "
            "sys.exit(l.renameat2(-100,sys.argv[1].encode(),-100,sys.argv[2].encode(),2))") +
        " " + shell_quote((shared_ / "bobdir").string()) + " " +
        shell_quote((shared_ / "alicedir").string()) + " 2>&1");
    ASSERT_TRUE(out.empty()) << out;
  }

  // Runs the Python `script` as bob with sys.argv[1] = `target`. The script does its first
  // step, creates sys.argv[3] (ready), waits for sys.argv[2] (swapped), then reads; bob's and
  // alice's directories are swapped in between. Returns what it printed.
  std::string bob_across_swap(const std::string& script, const fs::path& target) {
    fs::path flags = tmp_.path() / "flags";
    fs::create_directory(flags);
    fs::permissions(flags, fs::perms::all);
    fs::path ready = flags / "ready", swapped = flags / "swapped";
    std::string out;
    std::thread reader([&] {
      out = bob_.run("/usr/bin/python3 -c " + shell_quote(script) + " " +
                     shell_quote(target.string()) + " " + shell_quote(swapped.string()) + " " +
                     shell_quote(ready.string()));
    });
    for (int i = 0; i < 1000 && !fs::exists(ready); ++i) ::usleep(10000);
    EXPECT_TRUE(fs::exists(ready)) << "bob's first step did not finish";
    swap_directories();
    write_file(swapped, "");
    reader.join();
    return out;
  }

  // Inside the test's directory, which both users may traverse.
  fs::path mountpoint() const {
    fs::create_directories(tmp_.path() / "mnt");
    return tmp_.path() / "mnt";
  }

  TempDir tmp_;
  fs::path shared_;
  TestUser bob_{"b"};
  TestUser alice_{"a"};
};

// bob opens his file; it is swapped for alice's 0600 one before he reads. Before: each read
// opened the path anew and showed alice's text.
TEST_F(HeldInodes, AnOpenFileKeepsReadingWhatWasOpened) {
  write_pair("notes.txt", "bob's public notes\n", "ALICE-PRIVATE\n");
  MountRunner mount(tmp_.path() / "src", {"-o", "allow_other"}, mountpoint());
  ASSERT_TRUE(mount.mounted());
  fs::path file = mount.mountpoint() / "shared" / "bobdir" / "notes.txt";
  // bob opens, then reads through the open descriptor once the names are swapped.
  std::string script =
      "import os,sys,time\n"
      "fd=os.open(sys.argv[1],os.O_RDONLY)\n"
      "open(sys.argv[3],'w').close()\n"
      "while not os.path.exists(sys.argv[2]): time.sleep(0.01)\n"
      "try:\n  print(os.pread(fd,100,0).decode(),end='')\n"
      "except OSError as e:\n  print('errno',e.errno)\n";
  std::string out = bob_across_swap(script, file);
  EXPECT_EQ(out.find("ALICE"), std::string::npos) << out;
  EXPECT_EQ(out, "bob's public notes\n");
  // A new open of the name is alice's file now: refused to bob.
  EXPECT_NE(bob_.run("cat " + shell_quote(file.string())).find("Permission denied"),
            std::string::npos);
}

// bob works inside his data file's view directory; the name becomes alice's 0600 data file.
// The view's files carry the data file's permissions, so the kernel refuses alice's anyway;
// the daemon also answers ESTALE below a node whose name now belongs to another inode.
TEST_F(HeldInodes, AViewDirectoryHeldOpenNeverShowsTheNewcomersMetadata) {
  std::string fits = minimal_fits("BOB-PUBLIC");
  std::string secret = minimal_fits("ALICE-SECRET");
  write_pair("image.fits", fits, secret);
  MountRunner mount(tmp_.path() / "src", {"-o", "allow_other"}, mountpoint());
  ASSERT_TRUE(mount.mounted());
  fs::path view = mount.mountpoint() / "shared" / "bobdir" / "image.fits";
  // bob works inside the view of his file, then reads there once the names are swapped.
  std::string script =
      "import os,sys,time\n"
      "os.chdir(sys.argv[1])\n"
      "open('format').read()\n"
      "open(sys.argv[3],'w').close()\n"
      "while not os.path.exists(sys.argv[2]): time.sleep(0.01)\n"
      "for name in ['metadata.txt','header.txt','metadata.json','fields/0/OBJECT']:\n"
      "  try:\n    print(name, open(name).read())\n"
      "  except OSError as e:\n    print(name, 'errno', e.errno)\n";
  std::string out = bob_across_swap(script, view);
  EXPECT_EQ(out.find("ALICE-SECRET"), std::string::npos) << out;
  // alice herself sees her file's metadata under the new name.
  EXPECT_NE(alice_.run("cat " + shell_quote((view / "fields" / "0" / "OBJECT").string()))
                .find("ALICE-SECRET"),
            std::string::npos);
}

// bob holds his data file's original open, and its view directory as his working directory;
// the name becomes alice's 0600 data file. The open descriptor keeps reading bob's bytes; a
// new open of the original (its name cached by the kernel) opens the path as bob and checks
// the version it was shown: never alice's bytes.
TEST_F(HeldInodes, AnOriginalHeldOpenOrReopenedNeverShowsTheNewcomersBytes) {
  std::string fits = minimal_fits("BOB-PUBLIC");
  std::string secret = minimal_fits("ALICE-SECRET");
  write_pair("image.fits", fits, secret);
  MountRunner mount(tmp_.path() / "src", {"-o", "allow_other"}, mountpoint());
  ASSERT_TRUE(mount.mounted());
  fs::path view = mount.mountpoint() / "shared" / "bobdir" / "image.fits";
  std::string script =
      "import os,sys,time\n"
      "os.chdir(sys.argv[1])\n"
      "fd=os.open('image.fits',os.O_RDONLY)\n"
      "open(sys.argv[3],'w').close()\n"
      "while not os.path.exists(sys.argv[2]): time.sleep(0.01)\n"
      "try:\n  print('held', os.pread(fd,2880,0).decode())\n"
      "except OSError as e:\n  print('held errno', e.errno)\n"
      "try:\n  print('new', open('image.fits').read())\n"
      "except OSError as e:\n  print('new errno', e.errno)\n";
  std::string out = bob_across_swap(script, view);
  EXPECT_EQ(out.find("ALICE-SECRET"), std::string::npos) << out;
  EXPECT_NE(out.find("held SIMPLE"), std::string::npos) << out;
  EXPECT_NE(out.find("BOB-PUBLIC"), std::string::npos) << out;
  // alice reads her own file's original under the new name.
  EXPECT_NE(alice_.run("cat " + shell_quote((view / "image.fits").string())).find("ALICE-SECRET"),
            std::string::npos);
}

}  // namespace
