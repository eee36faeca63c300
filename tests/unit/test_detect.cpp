// Format detection on every file of the shared corpus, against its MANIFEST.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "corpus.hpp"
#include "detect.hpp"
#include "mount_runner.hpp"

namespace {

using metafs::extract::detect_format;
using metafs::extract::detect_format_prefix;
using metafs::extract::Format;
using metafs::test::corpus_dir;

Format detect_file(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  struct stat st {};
  ::fstat(fd, &st);
  Format f = detect_format(fd, path.filename().string(), static_cast<std::uint64_t>(st.st_size));
  ::close(fd);
  return f;
}

// What the MANIFEST's format column means for detection: netCDF-4 files are HDF5 containers
// (told apart from plain HDF5 at extraction, not by magic bytes).
Format expected_family(const std::string& manifest_format) {
  if (manifest_format == "dicom") return Format::kDicom;
  if (manifest_format.rfind("fits", 0) == 0) return Format::kFits;
  if (manifest_format == "hdf5" || manifest_format.rfind("netcdf4", 0) == 0) return Format::kHdf5;
  if (manifest_format.rfind("netcdf3", 0) == 0) return Format::kNetcdf;
  return Format::kNone;
}

TEST(Detect, EveryCorpusFileAsItsManifestSays) {
  // Broken on purpose so that their magic bytes are not where the format puts them.
  const std::map<std::string, std::string> not_recognised = {
      {"malformed/bad_magic.nc", "corrupt magic number"},
      {"malformed/notahdf5file.h5", "a text file named .h5"},
      {"malformed/gh-4585.h5", "HDF5 signature at offset 1, where no superblock can start"},
  };
  std::ifstream manifest(corpus_dir() / "MANIFEST.tsv");
  ASSERT_TRUE(manifest) << "MANIFEST.tsv missing";
  std::string line;
  std::getline(manifest, line);  // header
  int checked = 0;
  while (std::getline(manifest, line)) {
    std::istringstream fields(line);
    std::string rel, format;
    std::getline(fields, rel, '\t');
    std::getline(fields, format, '\t');
    std::filesystem::path path = corpus_dir() / rel;
    if (!std::filesystem::exists(path)) continue;  // listed but not shipped
    Format expected = not_recognised.count(rel) ? Format::kNone : expected_family(format);
    EXPECT_EQ(detect_file(path), expected) << rel << " (" << format << ")";
    ++checked;
  }
  EXPECT_GT(checked, 70);
}

TEST(Detect, PlainFilesAreNotScientific) {
  EXPECT_EQ(detect_format_prefix("hello world\n", "notes.txt", 12), Format::kNone);
  EXPECT_EQ(detect_format_prefix("", "empty.fits", 0), Format::kNone);
  EXPECT_EQ(detect_format_prefix("SIMPLE", "short.fits", 6), Format::kNone);
  EXPECT_EQ(detect_format_prefix("CDF\x03", "x.nc", 4), Format::kNone);
  // A gzip file that is not FITS inside.
  std::string gz = metafs::test::run_command("printf 'not fits at all' | gzip -c");
  EXPECT_EQ(detect_format_prefix(gz, "x.gz", gz.size()), Format::kNone);
}

TEST(Detect, MagicBytesOfEachFormat) {
  std::string dicom(132, '\0');
  dicom.replace(128, 4, "DICM");
  EXPECT_EQ(detect_format_prefix(dicom, "anything", dicom.size()), Format::kDicom);
  EXPECT_EQ(detect_format_prefix("SIMPLE  =                    T", "a[1].fits", 2880),
            Format::kFits);
  EXPECT_EQ(detect_format_prefix(std::string("CDF\x05", 4), "x", 48), Format::kNetcdf);
  std::string hdf5_user_block(1024 + 8, ' ');
  hdf5_user_block.replace(1024, 8, "\x89HDF\r\n\x1a\n");
  EXPECT_EQ(detect_format_prefix(hdf5_user_block, "x.h5", hdf5_user_block.size()), Format::kHdf5);
  std::string gz = metafs::test::run_command("printf 'SIMPLE  =                    T' | gzip -c");
  EXPECT_EQ(detect_format_prefix(gz, "no-extension", gz.size()), Format::kFits);
}

// A dataset with neither preamble nor meta header, explicit VR big endian (issue 15: was not
// recognised, while the little-endian form was).
TEST(Detect, BareBigEndianDicomDataset) {
  // (0008,0016) UI, (0008,0060) CS "MR": group, element, VR, 16-bit length, all big endian.
  std::string be(
      "\x00\x08\x00\x16UI\x00\x04"
      "1.2\0"
      "\x00\x08\x00\x60"
      "CS\x00\x02"
      "MR",
      24);
  EXPECT_EQ(detect_format_prefix(be, "image.dcm", be.size()), Format::kDicom);
  EXPECT_EQ(detect_format_prefix(be, "noextension", be.size()), Format::kDicom);
  EXPECT_EQ(detect_format_prefix(be, "notes.txt", be.size()), Format::kNone);
  // The same bytes as little endian would be group 0x0800: no DICOM group a dataset starts with.
  std::string other = be;
  other[1] = '\x09';
  EXPECT_EQ(detect_format_prefix(other, "image.dcm", other.size()), Format::kNone);
}

TEST(Detect, HdfSignatureBeyondTheFirstBlockOnlyWithAnHdfName) {
  metafs::test::TempDir dir;
  auto path = dir.path() / "big-user-block.h5";
  std::string bytes(8192 + 8, 'x');
  bytes.replace(8192, 8, "\x89HDF\r\n\x1a\n");
  std::ofstream(path, std::ios::binary) << bytes;
  EXPECT_EQ(detect_file(path), Format::kHdf5);
  auto renamed = dir.path() / "big-user-block.txt";
  std::filesystem::rename(path, renamed);
  EXPECT_EQ(detect_file(renamed), Format::kNone);
}

}  // namespace
