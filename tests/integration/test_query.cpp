// metafs-query end to end on corpus files whose values metadata.txt shows (noted beside
// each file): every operator and glob, numbers against text, the index against a full scan,
// catalogs, errors, a file the asker may not read, an edited file.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "corpus.hpp"
#include "mount_runner.hpp"
#include "temp_dir.hpp"
#include "test_user.hpp"

namespace fs = std::filesystem;
using metafs::test::binary;
using metafs::test::corpus_dir;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;
using metafs::test::TestUser;

namespace {

// metadata.txt of each (metafs-extract FILE):
const std::vector<std::pair<std::string, std::string>> kDataFiles = {
    // Modality MR, PatientID 832040, StudyDate 20010108, Rows 256
    {"dicom/fo-dicom_mr.dcm", "mr.dcm"},
    // Modality CT, PatientID 1CT1, StudyDate 20031208, Rows 512
    {"dicom/D_CLUNIE_CT1_RLE_FRAGS.dcm", "sub/ct1.dcm"},
    // Modality CT, PatientID 0010, StudyDate 20061219, Rows 512
    {"dicom/suyashkumar_5.dcm", "sub/deeper/ct5.dcm"},
    // Modality OT, PatientID X2EXAMPLE, StudyDate empty, Rows 32
    {"dicom/GH1301.dcm", "ot.dcm"},
    // 0/OBJECT NGC 1316, 0/TELESCOP Optical, 1/TELESCOP XTE, 1/INSTRUME ASM, 1/NAXIS1 16
    {"fits/checksum.fits", "checksum.fits"},
    // attributes/title test netcdf, variables/{aa,cc,...}/attributes/units furlongs, moles
    {"netcdf/ref_nctest_classic.nc", "classic.nc"},
    // variables/HT/attributes/units m, variables/{x,y}/attributes/units rad
    {"netcdf/20171025_2056.Cloud_Top_Height.nc", "cloud.nc"},
    // %attributes/attr2 0, 1, 2, 3
    {"hdf5/tall.h5", "tall.h5"},
    // extraction fails
    {"malformed/FITS_truncated.fits", "broken.fits"},
};

class QueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::permissions(tmp_.path(), fs::perms::owner_all | fs::perms::group_read |
                                     fs::perms::group_exec | fs::perms::others_read |
                                     fs::perms::others_exec);
    src_ = tmp_.path() / "src";
    cache_ = tmp_.path() / "cache";
    fs::create_directories(src_ / "sub" / "deeper");
    for (const auto& [from, to] : kDataFiles) fs::copy_file(corpus_dir() / from, src_ / to);
    index();
  }

  void index() {
    int status = -1;
    std::string out = run_command(shell_quote(binary("metafs-index")) + " " + shell_quote(src_) +
                                      " --no-progress --cache-dir " + shell_quote(cache_) + " 2>&1",
                                  &status);
    ASSERT_EQ(status, 0) << out;
  }

  std::string command(const std::string& args) const {
    return shell_quote(binary("metafs-query")) + " " + shell_quote(src_) + " --cache-dir " +
           shell_quote(cache_) + " " + args;
  }

  // The relative paths metafs-query prints for `args` (checked against --no-index too).
  std::set<std::string> query(const std::string& args, bool compare_scan = true) {
    int status = -1;
    std::string out = run_command(command(args), &status);
    EXPECT_TRUE(status == 0 || status == 1) << args << ": " << out;
    std::set<std::string> paths;
    std::istringstream lines(out);
    std::string line;
    std::string prefix = src_.string() + "/";
    while (std::getline(lines, line)) {
      EXPECT_EQ(line.rfind(prefix, 0), 0u) << line;
      paths.insert(line.substr(prefix.size()));
    }
    EXPECT_EQ(status == 1, paths.empty()) << args;
    if (compare_scan) {
      EXPECT_EQ(query(args + " --no-index", false), paths) << args;
    }
    return paths;
  }

  TempDir tmp_;
  fs::path src_;
  fs::path cache_;
};

using Paths = std::set<std::string>;

TEST_F(QueryTest, EveryOperator) {
  EXPECT_EQ(query("Modality=MR"), Paths({"mr.dcm"}));
  EXPECT_EQ(query("Modality!=MR"), Paths({"sub/ct1.dcm", "sub/deeper/ct5.dcm", "ot.dcm"}));
  EXPECT_EQ(query("'StudyDate>=20031208'"), Paths({"sub/ct1.dcm", "sub/deeper/ct5.dcm"}));
  EXPECT_EQ(query("'StudyDate>20031208'"), Paths({"sub/deeper/ct5.dcm"}));
  // An empty value is text, and "" sorts first.
  EXPECT_EQ(query("'StudyDate<20031208'"), Paths({"mr.dcm", "ot.dcm"}));
  EXPECT_EQ(query("'StudyDate<=20031208'"), Paths({"mr.dcm", "ot.dcm", "sub/ct1.dcm"}));
  EXPECT_EQ(query("'PatientID~^[0-9]+$'"), Paths({"mr.dcm", "sub/deeper/ct5.dcm"}));
  EXPECT_EQ(query("'1/INSTRUME?'"), Paths({"checksum.fits"}));
  EXPECT_EQ(query("'attributes/title=test netcdf'"), Paths({"classic.nc"}));
  EXPECT_EQ(query("'%attributes/attr2=0, 1, 2, 3'"), Paths({"tall.h5"}));
  EXPECT_EQ(query("format=netcdf"), Paths({"classic.nc", "cloud.nc"}));
  EXPECT_EQ(query("Nothing=1"), Paths());
}

TEST_F(QueryTest, NumbersCompareAsNumbers) {
  // Rows 256, 512, 512, 32: as text "32" >= "300" would hold.
  EXPECT_EQ(query("'Rows>=300'"), Paths({"sub/ct1.dcm", "sub/deeper/ct5.dcm"}));
  EXPECT_EQ(query("'Rows<300'"), Paths({"mr.dcm", "ot.dcm"}));
  // PatientID 0010 is the number 10; as text it is not "10".
  EXPECT_EQ(query("PatientID=10"), Paths({"sub/deeper/ct5.dcm"}));
  EXPECT_EQ(query("PatientID=0010.0"), Paths({"sub/deeper/ct5.dcm"}));
  EXPECT_EQ(query("'PatientID~^10$'"), Paths());
  EXPECT_EQ(query("'1/NAXIS1<100'"), Paths({"checksum.fits"}));  // 16 (NAXIS1 of HDU 0: 440)
  EXPECT_EQ(query("'0/NAXIS1<100'"), Paths());
}

TEST_F(QueryTest, Globs) {
  EXPECT_EQ(query("'*/TELESCOP=XTE'"), Paths({"checksum.fits"}));
  EXPECT_EQ(query("'*/TELESCOP~^Opt'"), Paths({"checksum.fits"}));
  EXPECT_EQ(query("'*/TELESCOP=Nothing'"), Paths());
  EXPECT_EQ(query("'**/units=moles'"), Paths({"classic.nc"}));
  EXPECT_EQ(query("'variables/*/attributes/units=rad'"), Paths({"cloud.nc"}));
  EXPECT_EQ(query("'**/units~^(m|furlongs)$'"), Paths({"classic.nc", "cloud.nc"}));
  EXPECT_EQ(query("'variables/H*/attributes/units=m'"), Paths({"cloud.nc"}));
  EXPECT_EQ(query("'variables/*?'"), Paths({"classic.nc", "cloud.nc"}));
}

TEST_F(QueryTest, AndOr) {
  EXPECT_EQ(query("Modality=CT Rows=512 PatientID=1CT1"), Paths({"sub/ct1.dcm"}));
  EXPECT_EQ(query("Modality=MR -o '*/TELESCOP?' -o 'Rows<100'"),
            Paths({"mr.dcm", "checksum.fits", "ot.dcm"}));
  EXPECT_EQ(query("Modality=CT 'StudyDate<20050101' -o format=hdf5"),
            Paths({"sub/ct1.dcm", "tall.h5"}));
}

TEST_F(QueryTest, CatalogsAndErrors) {
  int status = -1;
  std::string csv =
      run_command(command("format=dicom --columns Modality,PatientName,Rows"), &status);
  ASSERT_EQ(status, 0) << csv;
  // Read back by Python's csv module (the dialect pandas reads by default).
  std::string py = run_command("printf '%s' " + shell_quote(csv) +
                               " | python3 -c 'import csv,sys; r=list(csv.DictReader(sys.stdin)); "
                               "print(len(r), sorted(x[\"Modality\"] for x in r), "
                               "[x[\"PatientName\"] for x in r if x[\"Modality\"]==\"MR\"], "
                               "sorted(x[\"Rows\"] for x in r))'");
  EXPECT_EQ(py, "4 ['CT', 'CT', 'MR', 'OT'] ['MISTER^MR'] ['256', '32', '512', '512']\n") << csv;
  std::string jsonl =
      run_command(command("Modality=MR --columns PatientID,Missing --format jsonl"), &status);
  EXPECT_EQ(jsonl, "{\"path\":\"" + (src_ / "mr.dcm").string() +
                       "\",\"PatientID\":\"832040\",\"Missing\":\"\"}\n");
  std::string tsv = run_command(command("Modality=MR --columns PatientID --format tsv"), &status);
  EXPECT_EQ(tsv, "path\tPatientID\n" + (src_ / "mr.dcm").string() + "\t832040\n");
  std::string nul = run_command(command("Modality=MR -0 | tr '\\0' @"), &status);
  EXPECT_EQ(nul, (src_ / "mr.dcm").string() + "@");
  std::string errors = run_command(command("--errors"), &status);
  EXPECT_EQ(status, 0) << errors;
  EXPECT_EQ(errors.rfind("path\terror\n" + (src_ / "broken.fits").string() + "\t", 0), 0u)
      << errors;
  EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 2) << errors;
  run_command(command("'Modality~('"), &status);
  EXPECT_EQ(status, 2);
  run_command(command("Modality"), &status);
  EXPECT_EQ(status, 2);
}

TEST_F(QueryTest, AnEditedFileLeavesAndEntersResults) {
  fs::copy_file(src_ / "sub/ct1.dcm", src_ / "edit.dcm");
  index();
  EXPECT_EQ(query("PatientID=1CT1"), Paths({"sub/ct1.dcm", "edit.dcm"}));
  fs::copy_file(src_ / "mr.dcm", src_ / "edit.dcm", fs::copy_options::overwrite_existing);
  // The record of the old version is still cached, but it is no longer the file.
  EXPECT_EQ(query("PatientID=1CT1"), Paths({"sub/ct1.dcm"}));
  EXPECT_EQ(query("Modality=MR"), Paths({"mr.dcm"}));  // not extracted yet
  EXPECT_EQ(query("Modality=MR --extract"), Paths({"mr.dcm", "edit.dcm"}));
}

TEST_F(QueryTest, OnlyWhatTheAskerMayRead) {
  ASSERT_EQ(::geteuid(), 0u) << "this test runs as root (it creates a user)";
  TestUser user("q");
  fs::copy_file(src_ / "sub/ct1.dcm", src_ / "secret.dcm");
  fs::permissions(src_ / "secret.dcm", fs::perms::owner_read | fs::perms::owner_write);
  index();
  EXPECT_EQ(query("Modality=CT"), Paths({"sub/ct1.dcm", "sub/deeper/ct5.dcm", "secret.dcm"}));
  // The user gets the cache as it is (a copy of root's), and still sees only what they may
  // read.
  run_command("chown -R " + user.name() + " " + shell_quote(cache_));
  int status = -1;
  std::string out = user.run(command("Modality=CT"), &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out,
            (src_ / "sub/ct1.dcm").string() + "\n" + (src_ / "sub/deeper/ct5.dcm").string() + "\n");
  out = user.run(command("PatientID=1CT1 --columns PatientID"), &status);
  EXPECT_EQ(out.find("secret"), std::string::npos) << out;
}

// The names in a query directory of the mount, each checked to lead to its data directory.
std::set<std::string> listed(const fs::path& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    EXPECT_TRUE(entry.is_symlink()) << entry.path();
    EXPECT_TRUE(fs::is_directory(entry.path())) << entry.path() << " does not lead to a directory";
    out.insert(entry.path().filename().string());
  }
  EXPECT_FALSE(ec) << dir << ": " << ec.message();
  return out;
}

TEST_F(QueryTest, QueryDirectoriesInTheMount) {
  ASSERT_EQ(::geteuid(), 0u) << "this test runs as root (it creates a user)";
  TestUser user("m");
  fs::copy_file(src_ / "sub/ct1.dcm", src_ / "secret.dcm");
  fs::permissions(src_ / "secret.dcm", fs::perms::owner_read | fs::perms::owner_write);
  fs::permissions(src_ / "sub", fs::perms::owner_all | fs::perms::group_read |
                                    fs::perms::group_exec | fs::perms::others_read |
                                    fs::perms::others_exec);
  fs::permissions(src_ / "sub/deeper", fs::perms::owner_all | fs::perms::group_read |
                                           fs::perms::group_exec | fs::perms::others_read |
                                           fs::perms::others_exec);
  index();
  MountRunner mount(src_, {"-o", "allow_other", "--cache-dir", cache_.string()},
                    tmp_.path() / "mnt");
  ASSERT_TRUE(mount.mounted()) << mount.log();
  fs::path q = mount.mountpoint() / ".metafs" / "query";
  EXPECT_EQ(listed(q / "Modality=CT"),
            Paths({"secret.dcm", "sub%2Fct1.dcm", "sub%2Fdeeper%2Fct5.dcm"}));
  EXPECT_EQ(fs::read_symlink(q / "Modality=CT" / "sub%2Fct1.dcm"), "../../../sub/ct1.dcm");
  EXPECT_EQ(read_file(q / "Modality=CT" / "sub%2Fct1.dcm" / "fields" / "PatientID"), "1CT1\n");
  // '&' joins, %2F is '/' in a field path.
  EXPECT_EQ(listed(q / "Modality=CT&Rows>=500&PatientID=10"), Paths({"sub%2Fdeeper%2Fct5.dcm"}));
  EXPECT_EQ(listed(q / "*%2FTELESCOP=XTE"), Paths({"checksum.fits"}));
  EXPECT_EQ(listed(q / "variables%2F*%2Fattributes%2Funits=rad"), Paths({"cloud.nc"}));
  EXPECT_EQ(listed(q / "Modality=XX"), Paths());
  EXPECT_FALSE(fs::exists(q / "Modality=MR" / "sub%2Fct1.dcm"));  // a lookup checks the match
  std::error_code ec;
  fs::directory_iterator bad(q / "Modality~(", ec);
  EXPECT_EQ(ec.value(), EINVAL);
  std::string errors = read_file(mount.mountpoint() / ".metafs" / "errors");
  EXPECT_EQ(errors.rfind("broken.fits\t", 0), 0u) << errors;

  // Another user: the 0600 file is neither listed nor found by name.
  int status = -1;
  std::string out = user.run("ls " + shell_quote((q / "Modality=CT").string()), &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "sub%2Fct1.dcm\nsub%2Fdeeper%2Fct5.dcm\n");
  out = user.run("stat " + shell_quote((q / "Modality=CT" / "secret.dcm").string()), &status);
  EXPECT_NE(status, 0) << out;
  out = user.run("ls " + shell_quote((q / "Modality=CT").string()), &status);
  EXPECT_EQ(out.find("secret"), std::string::npos);

  // An edited file leaves one result and enters another once the mount has looked at it.
  fs::copy_file(src_ / "mr.dcm", src_ / "sub/ct1.dcm", fs::copy_options::overwrite_existing);
  EXPECT_EQ(listed(q / "Modality=CT"), Paths({"secret.dcm", "sub%2Fdeeper%2Fct5.dcm"}));
  // The mount sees the change once the watcher has told the kernel: within a second (README).
  std::string modality;
  for (int i = 0; i < 40 && modality != "MR\n"; ++i) {
    if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    modality = read_file(mount.mountpoint() / "sub/ct1.dcm/fields/Modality");
  }
  EXPECT_EQ(modality, "MR\n");
  EXPECT_EQ(listed(q / "Modality=MR"), Paths({"mr.dcm", "sub%2Fct1.dcm"}));
  EXPECT_TRUE(mount.alive()) << mount.log();
}

// A result whose path, written as one name, would pass 255 bytes is listed under a name made
// of a digest and the path's end (README): found by that name, by another user only if they
// may read the file.
TEST_F(QueryTest, ResultsWithLongPathsAreListed) {
  ASSERT_EQ(::geteuid(), 0u) << "this test runs as root (it creates a user)";
  TestUser user("l");
  // 12 levels of 24-byte names: a 300-byte path, "%2F" making it longer still.
  fs::path deep = src_;
  std::string rel;
  for (int i = 0; i < 12; ++i) {
    std::string part = "level" + std::to_string(10 + i) + "_1.2.840.10008.5.1";
    deep /= part;
    rel += part + "/";
  }
  fs::create_directories(deep);
  for (fs::path p = deep; p != src_; p = p.parent_path()) {
    fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                           fs::perms::others_read | fs::perms::others_exec);
  }
  fs::copy_file(src_ / "mr.dcm", deep / "mr%1.dcm");
  fs::copy_file(src_ / "mr.dcm", deep / "secret.dcm");
  fs::permissions(deep / "secret.dcm", fs::perms::owner_read | fs::perms::owner_write);
  index();
  EXPECT_EQ(query("Modality=MR"), Paths({"mr.dcm", rel + "mr%1.dcm", rel + "secret.dcm"}));
  MountRunner mount(src_, {"-o", "allow_other", "--cache-dir", cache_.string()},
                    tmp_.path() / "mnt");
  ASSERT_TRUE(mount.mounted()) << mount.log();
  fs::path q = mount.mountpoint() / ".metafs" / "query" / "Modality=MR";
  Paths names = listed(q);
  ASSERT_EQ(names.size(), 3u);
  std::string long_name;
  std::string secret_name;
  for (const std::string& name : names) {
    EXPECT_LE(name.size(), 255u) << name;
    if (name == "mr.dcm") continue;
    EXPECT_EQ(name.rfind("%~", 0), 0u) << name;
    EXPECT_EQ(name.find('/'), std::string::npos) << name;
    if (name.ends_with("%2Fmr%251.dcm")) long_name = name;
    if (name.ends_with("%2Fsecret.dcm")) secret_name = name;
  }
  ASSERT_FALSE(long_name.empty());
  ASSERT_FALSE(secret_name.empty());
  EXPECT_EQ(fs::read_symlink(q / long_name), "../../../" + rel + "mr%1.dcm");
  EXPECT_EQ(read_file(q / long_name / "fields" / "PatientID"), "832040\n");
  // By name, from a fresh daemon that has not listed it (resolved through its cache).
  MountRunner again(src_, {"-o", "allow_other", "--cache-dir", (tmp_.path() / "c2").string()},
                    tmp_.path() / "mnt2");
  ASSERT_TRUE(again.mounted()) << again.log();
  fs::path q2 = again.mountpoint() / ".metafs" / "query" / "Modality=MR";
  EXPECT_EQ(listed(q2), Paths());  // its own cache is empty until it extracts
  read_file(again.mountpoint() / rel / "mr%1.dcm" / "metadata.txt");
  EXPECT_EQ(fs::read_symlink(q2 / long_name), "../../../" + rel + "mr%1.dcm");
  EXPECT_FALSE(fs::exists(q2 / ("%~" + std::string(32, '0') + "%2Fmr%251.dcm")));
  // The digest of one path with the tail of another is no name.
  EXPECT_FALSE(fs::exists(q2 / (long_name.substr(0, 34) + "%2Fsecret.dcm")));
  // Another user: the long name of the 0600 file is neither listed nor found.
  int status = -1;
  std::string out = user.run("ls " + shell_quote(q.string()), &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, long_name + "\nmr.dcm\n");
  out = user.run("stat " + shell_quote((q / secret_name).string()), &status);
  EXPECT_NE(status, 0) << out;
  out = user.run("readlink " + shell_quote((q / long_name).string()), &status);
  EXPECT_EQ(out, "../../../" + rel + "mr%1.dcm\n");
  EXPECT_TRUE(mount.alive()) << mount.log();
  EXPECT_TRUE(again.alive()) << again.log();
}

}  // namespace
