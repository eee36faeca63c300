// metafs-extract for programs: `--as jsonl` (one JSON object per file and line) and `-r`.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "corpus.hpp"
#include "mount_runner.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using metafs::test::binary;
using metafs::test::corpus_dir;
using metafs::test::run_command;
using metafs::test::shell_quote;
using metafs::test::TempDir;

namespace {

std::string extract(const std::string& args, int* status) {
  return run_command(shell_quote(binary("metafs-extract")) + " " + args + " 2>/dev/null", status);
}

std::vector<nlohmann::json> lines_of(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

TEST(ExtractCli, RecursiveJsonlGivesOneObjectPerDataFileInPathOrder) {
  TempDir tmp;
  const fs::path root = tmp.path() / "tree";
  fs::create_directories(root / "b" / "deeper");
  fs::create_directories(root / "a");
  fs::copy_file(corpus_dir() / "fits/test_i10.fits", root / "b/deeper/image.fits");
  fs::copy_file(corpus_dir() / "dicom/GH1301.dcm", root / "a/chinese.dcm");
  fs::copy_file(corpus_dir() / "malformed/FITS_truncated.fits", root / "b/broken.fits");
  std::ofstream(root / "notes.txt") << "plain text\n";
  // Not followed: the same file must not be listed twice, nor a tree outside the argument.
  fs::create_symlink("a/chinese.dcm", root / "link.dcm");

  int status = -1;
  const auto lines = lines_of(extract("-r --as jsonl " + shell_quote(root), &status));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0]["path"], (root / "a/chinese.dcm").string());
  EXPECT_EQ(lines[1]["path"], (root / "b/broken.fits").string());
  EXPECT_EQ(lines[2]["path"], (root / "b/deeper/image.fits").string());
  EXPECT_EQ(lines[0]["format"], "dicom");
  EXPECT_EQ(lines[2]["format"], "fits");
  // "metadata" is metadata.json itself, as --as json prints it for the file alone.
  int single_status = -1;
  EXPECT_EQ(lines[0]["metadata"],
            nlohmann::json::parse(
                extract("--as json " + shell_quote(root / "a/chinese.dcm"), &single_status)));
  EXPECT_EQ(single_status, 0);
  EXPECT_EQ(lines[0]["metadata"]["PatientName"], "Wang^XiaoDong=王^小东=");
  // metadata.json's text itself, not parsed and printed again (which would rewrite numbers).
  std::string single = extract("--as json " + shell_quote(root / "b/deeper/image.fits"), nullptr);
  while (!single.empty() && single.back() == '\n') single.pop_back();
  std::string all = extract("-r --as jsonl " + shell_quote(root), nullptr);
  EXPECT_NE(all.find("\"metadata\":" + single + "}\n"), std::string::npos) << all;
  EXPECT_FALSE(lines[0].contains("error"));
  EXPECT_FALSE(lines[2].contains("error"));
  // A truncated file: the error travels on its line, and the exit status says so.
  ASSERT_TRUE(lines[1].contains("error"));
  EXPECT_FALSE(lines[1]["error"].get<std::string>().empty());
  EXPECT_EQ(status, 1);
}

TEST(ExtractCli, NamedFileThatIsNotScientificGetsALineWithItsReason) {
  TempDir tmp;
  std::ofstream(tmp.path() / "notes.txt") << "plain text\n";
  fs::copy_file(corpus_dir() / "fits/test_i10.fits", tmp.path() / "image.fits");
  int status = -1;
  const auto lines = lines_of(extract("--as jsonl " + shell_quote(tmp.path() / "notes.txt") + " " +
                                          shell_quote(tmp.path() / "image.fits"),
                                      &status));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_TRUE(lines[0]["format"].is_null());
  EXPECT_EQ(lines[0]["error"], "not a scientific file");
  EXPECT_EQ(lines[1]["format"], "fits");
  EXPECT_EQ(lines[1]["metadata"]["0"]["SIMPLE"], true);
  EXPECT_EQ(status, 1);
}

}  // namespace
