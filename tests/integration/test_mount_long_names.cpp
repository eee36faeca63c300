// Names longer than NAME_MAX through a real mount (issue 16 item 11): fields/ lists each one
// shortened by the documented rule (extractors/entry_name.hpp), the shortened name is what
// lookup accepts, and metadata.txt, metadata.json and header.txt keep the full name.
#include <errno.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "corpus.hpp"
#include "entry_name.hpp"
#include "mount_runner.hpp"

namespace fs = std::filesystem;
using metafs::extract::kMaxEntryNameBytes;
using metafs::extract::shorten_name;
using metafs::test::corpus_dir;
using metafs::test::MountRunner;
using metafs::test::read_file;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;
using metafs::test::write_file;

namespace {

const std::string kPrefix(250, 'p');
const std::string kFirst = kPrefix + "_first";  // 256 bytes, netCDF's longest legal name
const std::string kOther = kPrefix + "_other";
const std::string kAttribute(256, 'g');
const std::string kExtname = std::string(150, 'E') + std::string(150, 'X');

std::string short_name(const std::string& name) {
  return shorten_name(name, kMaxEntryNameBytes);
}

// 80-column FITS cards, padded to whole 2880-byte blocks.
std::string fits_header(const std::vector<std::string>& cards) {
  std::string out;
  for (const std::string& card : cards) out += card + std::string(80 - card.size(), ' ');
  out += "END" + std::string(77, ' ');
  out.resize((out.size() + 2879) / 2880 * 2880, ' ');
  return out;
}

// A primary HDU and an image extension whose EXTNAME (300 bytes, a long string continued over
// CONTINUE cards) gives fields/ a link named after it.
std::string fits_with_long_extname() {
  std::vector<std::string> ext = {
      "XTENSION= 'IMAGE   '", "BITPIX  =                    8", "NAXIS   =                    0",
      "PCOUNT  =                    0", "GCOUNT  =                    1"};
  for (std::size_t at = 0; at < kExtname.size(); at += 60) {
    std::string piece = kExtname.substr(at, 60);
    bool last = at + 60 >= kExtname.size();
    ext.push_back((at == 0 ? "EXTNAME = '" : "CONTINUE  '") + piece + (last ? "'" : "&'"));
  }
  return fits_header({"SIMPLE  =                    T", "BITPIX  =                    8",
                      "NAXIS   =                    0", "EXTEND  =                    T"}) +
         fits_header(ext);
}

std::set<std::string> names_in(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename());
  return names;
}

class LongNamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = tmp_.path() / "src";
    fs::create_directories(src_);
    fs::path regressions = corpus_dir() / "regressions";
    fs::copy_file(regressions / "hdf5" / "name_4097_bytes.h5", src_ / "name_4097_bytes.h5");
    fs::copy_file(regressions / "hdf5" / "name_256_bytes.h5", src_ / "name_256_bytes.h5");
    fs::copy_file(regressions / "netcdf" / "name_256_bytes.nc", src_ / "name_256_bytes.nc");
    // Two long names sharing a 250-byte prefix, and a long attribute name with a value.
    std::string cdl = "netcdf two_long {\ndimensions:\n  x = 2 ;\nvariables:\n  int " + kFirst +
                      "(x) ;\n  int " + kOther + "(x) ;\n  :" + kAttribute +
                      " = \"long attribute value\" ;\n}\n";
    write_file(tmp_.path() / "two_long.cdl", cdl);
    int status = -1;
    std::string out = run_command("ncgen -k nc4 -o " + shell_quote(src_ / "two_long.nc") + " " +
                                      shell_quote(tmp_.path() / "two_long.cdl") + " 2>&1",
                                  &status);
    ASSERT_EQ(status, 0) << "ncgen is needed to build the test file: " << out;
    write_file(src_ / "long_extname.fits", fits_with_long_extname());
    mount_ = std::make_unique<MountRunner>(src_);
    ASSERT_TRUE(mount_->mounted());
    mnt_ = mount_->mountpoint();
  }

  void TearDown() override {
    if (mount_) {
      EXPECT_TRUE(mount_->alive()) << mount_->log();
    }
    mount_.reset();
  }

  TempDir tmp_;
  fs::path src_;
  fs::path mnt_;
  std::unique_ptr<MountRunner> mount_;
};

TEST_F(LongNamesTest, Hdf5NameOf4097BytesIsListedShortenedAndTheFileIsNoError) {
  fs::path data = mnt_ / "name_4097_bytes.h5";
  EXPECT_FALSE(fs::exists(data / "error")) << read_file(data / "error");
  const std::string full(4097, 'a');
  const std::string entry = short_name(full);
  EXPECT_EQ(names_in(data / "fields").count(entry), 1u);
  EXPECT_EQ(names_in(data / "fields").count("ok"), 1u);
  EXPECT_TRUE(fs::is_directory(data / "fields" / entry));
  EXPECT_EQ(read_file(data / "fields" / entry / "%kind"), "group\n");
  EXPECT_EQ(read_file(data / "fields" / "ok" / "%kind"), "dataset\n");
  // The full name everywhere but in fields/.
  auto json = nlohmann::json::parse(read_file(data / "metadata.json"));
  EXPECT_TRUE(json.contains(full));
  EXPECT_NE(read_file(data / "metadata.txt").find(full + "/%kind\tgroup\n"), std::string::npos);
  EXPECT_NE(read_file(data / "header.txt").find("GROUP \"" + full + "\""), std::string::npos);
  // Nor is it among the daemon's failed extractions (the worker's reply carried it whole).
  std::string errors = read_file(mnt_ / ".metafs" / "errors");
  EXPECT_EQ(errors.find("name_4097_bytes.h5"), std::string::npos) << errors;
}

TEST_F(LongNamesTest, Hdf5NameOf256BytesIsReachableUnderItsShortName) {
  fs::path h5 = mnt_ / "name_256_bytes.h5" / "fields";
  EXPECT_EQ(read_file(h5 / short_name(std::string(256, 'a')) / "%kind"), "group\n");
}

TEST_F(LongNamesTest, NetcdfNameOf256BytesIsReachableUnderItsShortName) {
  fs::path nc = mnt_ / "name_256_bytes.nc";
  // A classic file this small opens once netCDF files are read with ncdump's zero padding
  // (issue 16, the netcdf branch); before that it is an `error` for another reason.
  ASSERT_FALSE(fs::exists(nc / "error")) << read_file(nc / "error");
  const std::string variable(256, 'v');
  EXPECT_EQ(names_in(nc / "fields" / "variables").count(short_name(variable)), 1u);
  EXPECT_EQ(read_file(nc / "fields" / "variables" / short_name(variable) / "type"), "int\n");
  EXPECT_NE(read_file(nc / "metadata.txt").find("variables/" + variable + "/type\tint\n"),
            std::string::npos);
  // The full name is longer than NAME_MAX: the lookup says so instead of finding nothing.
  struct stat st {};
  EXPECT_EQ(::lstat((nc / "fields" / "variables" / variable).c_str(), &st), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
}

TEST_F(LongNamesTest, LongNamesSharingA250BytePrefixStayDistinct) {
  fs::path data = mnt_ / "two_long.nc";
  EXPECT_FALSE(fs::exists(data / "error"));
  std::set<std::string> variables = names_in(data / "fields" / "variables");
  EXPECT_EQ(variables, (std::set<std::string>{short_name(kFirst), short_name(kOther)}));
  for (const std::string& name : variables) {
    EXPECT_LE(name.size(), kMaxEntryNameBytes);
    EXPECT_EQ(read_file(data / "fields" / "variables" / name / "type"), "int\n");
  }
  EXPECT_EQ(read_file(data / "fields" / "attributes" / short_name(kAttribute)),
            "long attribute value\n");
  auto json = nlohmann::json::parse(read_file(data / "metadata.json"));
  EXPECT_TRUE(json["variables"].contains(kFirst));
  EXPECT_TRUE(json["variables"].contains(kOther));
  EXPECT_EQ(json["attributes"][kAttribute], "long attribute value");
  std::string header = read_file(data / "header.txt");
  EXPECT_NE(header.find("int " + kFirst + "(x) ;"), std::string::npos) << header;
  EXPECT_NE(header.find(":" + kAttribute + " = \"long attribute value\" ;"), std::string::npos);
  // A whole walk (readdir, readdirplus, lookups) meets no error.
  int status = -1;
  std::string out =
      run_command("ls -lR " + shell_quote(data / "fields") + " 2>&1 >/dev/null", &status);
  EXPECT_EQ(status, 0) << out;
  EXPECT_EQ(out, "");
}

TEST_F(LongNamesTest, FitsExtnameLinkGetsAShortNameAndResolves) {
  fs::path data = mnt_ / "long_extname.fits";
  EXPECT_FALSE(fs::exists(data / "error")) << read_file(data / "error");
  fs::path link = data / "fields" / short_name(kExtname);
  ASSERT_TRUE(fs::is_symlink(link)) << read_file(data / "metadata.txt");
  EXPECT_EQ(fs::read_symlink(link), "1");
  EXPECT_EQ(read_file(link / "EXTNAME"), kExtname + "\n");
  EXPECT_NE(read_file(data / "metadata.txt").find("1/EXTNAME\t" + kExtname + "\n"),
            std::string::npos);
}

}  // namespace
