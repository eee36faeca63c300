// FITS extractor: corpus fidelity against astropy and funpack, naming rules, damage, huge and
// gzip files, metafs-extract.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "corpus.hpp"
#include "fits/fits_extractor.hpp"
#include "mount_runner.hpp"
#include "render.hpp"
#include "temp_dir.hpp"

namespace metafs::extract {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::TempDir;

const fs::path kOracle = fs::path(METAFS_ORACLE_DIR) / "fits_oracle.py";

Extraction extract(const fs::path& path) {
  Extraction out;
  out.format = Format::kFits;
  try {
    make_fits_extractor()->extract(open_source_file(path), out);
  } catch (const ExtractError& e) {
    out.error = e.what();
  }
  return out;
}

json run_oracle(const std::vector<fs::path>& files) {
  std::string command = "/usr/bin/python3 " + test::shell_quote(kOracle.string());
  for (const auto& file : files) command += " " + test::shell_quote(file.string());
  int status = 0;
  std::string output = test::run_command(command, &status);
  EXPECT_EQ(status, 0) << command;
  return json::parse(output);
}

NodeId child(const MetaTree& tree, NodeId parent, const std::string& name) {
  return tree.find(parent, escape_name(name));
}

// Builds FITS headers card by card.
class FitsWriter {
 public:
  FitsWriter& card(std::string text) {
    text.resize(80, ' ');
    header_ += text;
    return *this;
  }
  // Ends the header (END + padding to 2880).
  FitsWriter& end() {
    card("END");
    header_.resize((header_.size() + 2879) / 2880 * 2880, ' ');
    bytes_ += header_;
    header_.clear();
    return *this;
  }
  FitsWriter& data(std::size_t n) {
    bytes_.append((n + 2879) / 2880 * 2880, '\0');
    return *this;
  }
  const std::string& bytes() const { return bytes_; }
  // The cards added since the last end().
  const std::string& pending() const { return header_; }
  void write(const fs::path& path) const { std::ofstream(path, std::ios::binary) << bytes_; }

 private:
  std::string header_;
  std::string bytes_;
};

// Compares one HDU directory with astropy's cards; returns the number of cards that matched.
std::size_t compare_cards(const MetaTree& tree, NodeId dir, const json& cards,
                          const std::string& where, NodeId fallback = MetaTree::kNotFound,
                          std::size_t* total = nullptr) {
  std::map<std::string, std::vector<std::string>> commentary;
  std::map<std::string, int> seen;
  std::size_t matched = 0;
  for (const auto& card : cards) {
    std::string keyword = card[0], kind = card[1], value = card[2];
    if (kind == "commentary") {
      commentary[keyword.empty() ? "blank_keyword" : keyword].push_back(value);
      continue;
    }
    if (total != nullptr) ++*total;
    int n = ++seen[keyword];
    std::string name = escape_name(keyword) + (n > 1 ? "#" + std::to_string(n) : "");
    NodeId id = tree.find(dir, name);
    if (id == MetaTree::kNotFound && fallback != MetaTree::kNotFound)
      id = tree.find(fallback, name);
    if (id == MetaTree::kNotFound) {
      ADD_FAILURE() << where << ": astropy reads " << keyword << " = " << value
                    << ", missing from fields/";
      continue;
    }
    const MetaNode& node = tree.node(id);
    bool ok = false;
    if (kind == "str") {
      ok = node.text == value && node.kind == ValueKind::kString;
    } else if (kind == "bool") {
      ok = node.text == value && node.kind == ValueKind::kBoolean;
    } else if (kind == "int") {
      // As written, so "003" and "+3" are astropy's 3.
      try {
        ok = std::stoll(node.text) == std::stoll(value);
      } catch (const std::exception&) {
        ok = node.text == value;
      }
      ok = ok && node.kind == ValueKind::kNumber;
    } else if (kind == "float") {
      std::string text = node.text;
      for (char& c : text) c = (c == 'D' || c == 'd') ? 'E' : c;
      ok = std::stod(text) == std::stod(value) && node.kind == ValueKind::kNumber;
    } else if (kind == "complex") {
      ok = !node.text.empty() && node.text.front() == '(';
    } else {
      ok = node.text.empty();
    }
    if (ok) {
      ++matched;
    } else {
      ADD_FAILURE() << where << "/" << name << ": fields/ has '" << node.text << "' (kind "
                    << static_cast<int>(node.kind) << "), astropy " << kind << " '" << value << "'";
    }
  }
  for (auto& [keyword, lines] : commentary) {
    if (keyword == "blank_keyword") {
      // Entirely blank cards are padding: astropy keeps them, fields/ does not.
      std::erase(lines, "");
      if (lines.empty()) continue;
    }
    if (total != nullptr) *total += lines.size();
    NodeId id = tree.find(dir, keyword);
    if (id == MetaTree::kNotFound && fallback != MetaTree::kNotFound)
      id = tree.find(fallback, keyword);
    if (id == MetaTree::kNotFound) {
      ADD_FAILURE() << where << ": no " << keyword << " file";
      continue;
    }
    EXPECT_EQ(tree.node(id).items, lines) << where << "/" << keyword;
    if (tree.node(id).items == lines) matched += lines.size();
  }
  return matched;
}

std::vector<std::string> non_empty(const json& lines) {
  std::vector<std::string> out;
  for (const auto& line : lines) {
    if (!line.get<std::string>().empty()) out.push_back(line);
  }
  return out;
}

// The card lines of header.txt for each "# HDU" section.
std::vector<std::vector<std::string>> header_sections(const std::string& header) {
  std::vector<std::vector<std::string>> sections;
  std::size_t start = 0;
  while (start < header.size()) {
    std::size_t end = header.find('\n', start);
    std::string line = header.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# HDU ", 0) == 0) {
      sections.emplace_back();
    } else if (!line.empty() && line != "END" && !sections.empty()) {
      sections.back().push_back(line);
    }
  }
  return sections;
}

TEST(FitsCorpus, EveryCardAstropyReadsIsInFields) {
  auto files = test::corpus_files("fits");
  ASSERT_GE(files.size(), 12u);
  json oracle = run_oracle(files);
  std::size_t total_cards = 0, matched_cards = 0;
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const json& expected = oracle[file.string()];
    ASSERT_TRUE(expected["error"].is_null()) << expected["error"];
    Extraction got = extract(file);
    EXPECT_EQ(got.error, "");
    const MetaTree& tree = got.tree;
    ASSERT_EQ(tree.node(MetaTree::kRoot).children.size() >= expected["hdus"].size(), true);
    for (std::size_t i = 0; i < expected["hdus"].size(); ++i) {
      const json& hdu = expected["hdus"][i];
      NodeId dir = child(tree, MetaTree::kRoot, std::to_string(i));
      ASSERT_NE(dir, MetaTree::kNotFound) << "HDU " << i;
      std::string where = file.filename().string() + " HDU " + std::to_string(i);
      bool compressed = hdu.contains("stored");
      NodeId stored = compressed ? child(tree, dir, "compressed") : MetaTree::kNotFound;
      matched_cards += compare_cards(tree, dir, hdu["cards"], where, stored, &total_cards);
      if (compressed) {
        ASSERT_NE(stored, MetaTree::kNotFound);
        EXPECT_EQ(tree.node(child(tree, dir, "type")).text, "compressed image");
        matched_cards += compare_cards(tree, stored, hdu["stored"], where + " (stored)",
                                       MetaTree::kNotFound, &total_cards);
      }
    }
    // header.txt: the cards of every HDU in file order; compressed images as funpack writes
    // them (funpack may add fresh CHECKSUM/DATASUM cards), then the stored table.
    auto sections = header_sections(got.header);
    std::size_t s = 0;
    for (std::size_t i = 0; i < expected["hdus"].size() && s < sections.size(); ++i, ++s) {
      const json& hdu = expected["hdus"][i];
      if (hdu.contains("stored")) {
        const json& funpack = expected["funpack"];
        std::vector<std::string> image =
            funpack[funpack.size() == expected["hdus"].size() ? i : i - 1];
        std::erase_if(image, [&](const std::string& c) {
          return (c.rfind("CHECKSUM", 0) == 0 || c.rfind("DATASUM", 0) == 0) &&
                 std::find(sections[s].begin(), sections[s].end(), c) == sections[s].end();
        });
        EXPECT_EQ(sections[s], image) << "HDU " << i << " vs funpack";
        ++s;
        ASSERT_LT(s, sections.size());
        EXPECT_EQ(sections[s], non_empty(hdu["stored_images"]));
      } else {
        EXPECT_EQ(sections[s], non_empty(hdu["images"])) << "HDU " << i;
      }
    }
    EXPECT_EQ(s, sections.size());
  }
  std::printf("[ fidelity ] %zu of %zu astropy cards matched over %zu files\n", matched_cards,
              total_cards, files.size());
  EXPECT_EQ(matched_cards, total_cards);
}

TEST(FitsCorpus, ValuesAndLayout) {
  Extraction got = extract(test::corpus_dir() / "fits/checksum.fits");
  ASSERT_EQ(got.error, "");
  const MetaTree& tree = got.tree;
  NodeId rate = child(tree, MetaTree::kRoot, "RATE");
  ASSERT_NE(rate, MetaTree::kNotFound);
  EXPECT_EQ(tree.node(rate).type, MetaNode::Type::kLink);
  EXPECT_EQ(tree.node(rate).text, "1");
  NodeId hdu1 = child(tree, MetaTree::kRoot, "1");
  EXPECT_EQ(tree.node(child(tree, hdu1, "type")).text, "binary table");
  EXPECT_EQ(tree.node(child(tree, hdu1, "XTENSION")).text, "BINTABLE");
  NodeId columns = child(tree, hdu1, "columns");
  ASSERT_NE(columns, MetaTree::kNotFound);
  std::string txt = render_txt(tree);
  EXPECT_NE(txt.find("1/EXTNAME\tRATE\n"), std::string::npos);
  EXPECT_NE(txt.find("0/SIMPLE\tT\n"), std::string::npos);
  json j = json::parse(render_json(tree));
  EXPECT_EQ(j["0"]["SIMPLE"], true);
  EXPECT_TRUE(j["0"]["BITPIX"].is_number());
  EXPECT_EQ(j["1"]["columns"]["1"]["name"],
            tree.node(child(tree, child(tree, columns, "1"), "name")).text);
}

TEST(FitsNaming, SyntheticHeaderAgainstAstropy) {
  TempDir dir;
  fs::path path = dir.path() / "a[1].fits";  // a file, never CFITSIO's extension syntax
  FitsWriter w;
  w.card("SIMPLE  =                    T / conforms")
      .card("BITPIX  =                    8")
      .card("NAXIS   =                    0")
      .card("EXTEND  =                    T")
      .card("OBSERVER= 'O''Hara  '          / quote inside, trailing blanks")
      .card("LEAD    = '  leading'")
      .card("EQUINOX =                2000. / as written")
      .card("DEXP    =              1.5D+03")
      .card("UNDEF   =                      / no value")
      .card("FLAG    =                    F")
      .card("HIERARCH ESO DET CHIP ID = 'CCD-42' / hierarch")
      .card("HIERARCH ESO TEL AIRM START = 1.234")
      .card("LONG    = 'first part of a long string &'")
      .card("CONTINUE  'and the rest'")
      .card("DUP     =                    1")
      .card("DUP     =                    2")
      .card("COMMENT first comment")
      .card("HISTORY step 1")
      .card("COMMENT second comment")
      .card("HISTORY step 2")
      .card("        text on a blank keyword")
      .end();
  w.card("XTENSION= 'IMAGE   '")
      .card("BITPIX  =                   16")
      .card("NAXIS   =  1")
      .card("NAXIS1  =                   10")
      .card("PCOUNT  =                    0")
      .card("GCOUNT  =                    1")
      .card("EXTNAME = 'SCI     '")
      .end()
      .data(20);
  w.card("XTENSION= 'IMAGE   '")
      .card("BITPIX  =                   16")
      .card("NAXIS   =  0")
      .card("PCOUNT  =                    0")
      .card("GCOUNT  =                    1")
      .card("EXTNAME = 'DQ'")
      .end();
  w.card("XTENSION= 'IMAGE   '")
      .card("BITPIX  =                   16")
      .card("NAXIS   =  0")
      .card("PCOUNT  =                    0")
      .card("GCOUNT  =                    1")
      .card("EXTNAME = 'DQ'")
      .end();
  w.card("XTENSION= 'IMAGE   '")
      .card("BITPIX  =                   16")
      .card("NAXIS   =  0")
      .card("PCOUNT  =                    0")
      .card("GCOUNT  =                    1")
      .card("EXTNAME = '0'")
      .end();
  w.write(path);

  Extraction got = extract(path);
  ASSERT_EQ(got.error, "");
  const MetaTree& tree = got.tree;
  json oracle = run_oracle({path});
  const json& expected = oracle[path.string()];
  ASSERT_TRUE(expected["error"].is_null());
  ASSERT_EQ(expected["hdus"].size(), 5u);
  std::size_t cards = 0;
  for (std::size_t i = 0; i < 5; ++i)
    cards += compare_cards(tree, child(tree, MetaTree::kRoot, std::to_string(i)),
                           expected["hdus"][i]["cards"], "HDU " + std::to_string(i));
  EXPECT_GT(cards, 25u);

  std::string txt = render_txt(tree);
  for (const char* line :
       {"0/OBSERVER\tO'Hara\n", "0/LEAD\t  leading\n", "0/EQUINOX\t2000.\n", "0/DEXP\t1.5D+03\n",
        "0/UNDEF\t\n", "0/FLAG\tF\n", "0/ESO DET CHIP ID\tCCD-42\n",
        "0/ESO TEL AIRM START\t1.234\n", "0/LONG\tfirst part of a long string and the rest\n",
        "0/DUP\t1\n", "0/DUP#2\t2\n", "0/COMMENT\tfirst comment\\nsecond comment\n",
        "0/HISTORY\tstep 1\\nstep 2\n", "0/blank_keyword\ttext on a blank keyword\n",
        "1/type\timage\n", "1/EXTNAME\tSCI\n"}) {
    EXPECT_NE(txt.find(line), std::string::npos) << line << "\nin:\n" << txt;
  }
  json j = json::parse(render_json(tree));
  EXPECT_EQ(j["0"]["FLAG"], false);
  EXPECT_EQ(j["0"]["HISTORY"], json::array({"step 1", "step 2"}));
  EXPECT_EQ(j["0"]["ESO TEL AIRM START"], 1.234);
  // Links only for unique EXTNAMEs that are not HDU numbers.
  NodeId sci = child(tree, MetaTree::kRoot, "SCI");
  ASSERT_NE(sci, MetaTree::kNotFound);
  EXPECT_EQ(tree.node(sci).type, MetaNode::Type::kLink);
  EXPECT_EQ(tree.node(sci).text, "1");
  EXPECT_EQ(child(tree, MetaTree::kRoot, "DQ"), MetaTree::kNotFound);
  EXPECT_EQ(tree.node(child(tree, MetaTree::kRoot, "0")).type, MetaNode::Type::kDirectory);
  EXPECT_EQ(tree.node(MetaTree::kRoot).children.size(), 6u);  // 5 HDUs + SCI
  // header.txt: separators and the cards as written, trailing blanks trimmed.
  EXPECT_NE(got.header.find("# HDU 1 image SCI (fields/1)\nXTENSION= 'IMAGE   '\n"),
            std::string::npos);
  EXPECT_NE(got.header.find("CONTINUE  'and the rest'\n"), std::string::npos);
}

// String values as astropy reads them (FITS 4.0 section 4.2.1.1): '' is one quote, trailing
// blanks go, leading ones stay; an unclosed string keeps the rest of the card and is a problem
// named by its card. A file cut inside its last card reads that card as blank-padded.
TEST(FitsDamage, StringValuesAndACardCutShortAreReadAsWritten) {
  TempDir dir;
  FitsWriter w;
  w.card("SIMPLE  =                    T")
      .card("BITPIX  =                    8")
      .card("NAXIS   =                    0")
      .card("QUOTES  = '''a'' ''''b'''     / doubled quotes at both ends")
      .card("EMPTY   = ''")
      .card("BLANKS  = '  x '")
      .card("OPEN    = 'no closing quote   ")
      .card("CUT     = 'cut short'");
  // The file ends 21 bytes into CUT's card, as a cut file would.
  fs::path cut = dir.path() / "cut.fits";
  std::ofstream(cut, std::ios::binary) << w.pending().substr(0, 7 * 80 + 21);
  fs::path whole = dir.path() / "whole.fits";
  w.end().write(whole);

  for (const fs::path& path : {cut, whole}) {
    SCOPED_TRACE(path.filename().string());
    Extraction got = extract(path);
    std::string txt = render_txt(got.tree);
    for (const char* line : {"0/QUOTES\t'a' ''b'\n", "0/EMPTY\t\n", "0/BLANKS\t  x\n",
                             "0/OPEN\tno closing quote\n", "0/CUT\tcut short\n"}) {
      EXPECT_NE(txt.find(line), std::string::npos) << line << "\nin:\n" << txt;
    }
    EXPECT_EQ(got.error,
              path == whole ? "HDU 0: card 7 (OPEN) at byte 480: string value without closing quote"
                            : "HDU 0: header has no END card (the file ends at byte 581 after 8 "
                              "cards) (and 1 more problem)");
  }
}

TEST(FitsDamage, MalformedCorpusFilesReportWhatAndWhere) {
  struct Case {
    const char* file;
    const char* error_part;
    const char* field;  // a value that must still be shown
  };
  for (const Case& c :
       {Case{"FITS_truncated.fits", "byte 3040", "0/OBJECT"},
        Case{"ref.file001.hdu", "byte 640", "0/ORIGIN"},
        Case{"file-img2-bitpix+16.fits", "HDU 1: mandatory keyword PCOUNT", "1/NAXIS2"}}) {
    SCOPED_TRACE(c.file);
    // A crash or hang would kill the test process: run in a child with a deadline.
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::alarm(10);
      Extraction got = extract(test::corpus_dir() / "malformed" / c.file);
      std::string report = got.error + "\n" + render_txt(got.tree);
      (void)!::write(pipefd[1], report.data(), report.size());
      ::_exit(0);
    }
    ::close(pipefd[1]);
    std::string report;
    char buffer[4096];
    for (ssize_t n; (n = ::read(pipefd[0], buffer, sizeof buffer)) > 0;) report.append(buffer, n);
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
    std::string error = report.substr(0, report.find('\n'));
    EXPECT_NE(error.find(c.error_part), std::string::npos) << error;
    EXPECT_NE(report.find(std::string("\n") + c.field + "\t"), std::string::npos) << report;
  }
}

TEST(FitsDamage, MissingEndTruncatedDataAndBadCard) {
  TempDir dir;
  FitsWriter primary;
  primary.card("SIMPLE  =                    T")
      .card("BITPIX  =                    8")
      .card("NAXIS   =                    0")
      .card("OBJECT  = 'M31'")
      .end();
  {
    // The extension's header never ends.
    std::string bytes = primary.bytes();
    std::string ext = "XTENSION= 'IMAGE   '";
    ext.resize(80, ' ');
    std::string naxis = "NAXIS   =                    0";
    naxis.resize(80, ' ');
    bytes += ext + naxis;
    std::ofstream(dir.path() / "noend.fits", std::ios::binary) << bytes;
    Extraction got = extract(dir.path() / "noend.fits");
    EXPECT_NE(got.error.find("HDU 1: header has no END card"), std::string::npos) << got.error;
    EXPECT_NE(got.error.find("after 2 cards"), std::string::npos) << got.error;
    EXPECT_EQ(got.tree.node(child(got.tree, child(got.tree, 0, "1"), "XTENSION")).text, "IMAGE");
    EXPECT_EQ(got.tree.node(child(got.tree, child(got.tree, 0, "0"), "OBJECT")).text, "M31");
  }
  {
    FitsWriter w;
    w.card("SIMPLE  =                    T")
        .card("BITPIX  =                   16")
        .card("NAXIS   =                    1")
        .card("NAXIS1  =                 4000")
        .end();
    std::string bytes = w.bytes() + std::string(1000, '\0');
    std::ofstream(dir.path() / "short.fits", std::ios::binary) << bytes;
    Extraction got = extract(dir.path() / "short.fits");
    EXPECT_EQ(got.error, "HDU 0: data unit truncated: 1000 of 8000 bytes present at byte 2880");
    EXPECT_EQ(got.tree.node(child(got.tree, child(got.tree, 0, "0"), "NAXIS1")).text, "4000");
  }
  {
    FitsWriter w;
    w.card("SIMPLE  =                    T")
        .card("BITPIX  =                    8")
        .card("NAXIS   =                    0")
        .card("BAD     = 'caf\xe9'")
        .card("AFTER   =                    7")
        .end();
    w.write(dir.path() / "badcard.fits");
    Extraction got = extract(dir.path() / "badcard.fits");
    EXPECT_EQ(got.error, "HDU 0: card 4 (BAD) at byte 240: byte outside printable ASCII");
    EXPECT_EQ(got.tree.node(child(got.tree, child(got.tree, 0, "0"), "AFTER")).text, "7");
  }
}

fs::path regression(const std::string& name) {
  return test::corpus_dir() / "regressions/fits" / name;
}

// astropy reads a header whose END card has text after it (with a warning); so does metafs.
TEST(FitsRegressions, EndCardFollowedByJunkStillEndsTheHeader) {
  Extraction got = extract(regression("end_card_with_junk.fits"));
  EXPECT_EQ(got.error,
            "HDU 0: END card is followed by text in columns 9-80 (ignored, as astropy does)");
  NodeId hdu0 = child(got.tree, MetaTree::kRoot, "0");
  ASSERT_NE(hdu0, MetaTree::kNotFound);
  EXPECT_EQ(got.tree.node(child(got.tree, hdu0, "OBJECT")).text, "M31");
  EXPECT_EQ(got.tree.node(child(got.tree, hdu0, "type")).text, "primary");
  EXPECT_NE(got.header.find("OBJECT  = 'M31'\nEND\n"), std::string::npos) << got.header;
}

// Other forms of a damaged END card end the header where astropy ends it: "END" followed by a
// byte that cannot continue a keyword (a newline, junk after blanks, '='), when no exact END
// card follows in the block; when one does, astropy reads the damaged one as a card and so
// does metafs. "ENDX" and a lowercase "ENDtime" are keywords.
TEST(FitsRegressions, EndCardWithJunkInColumnsFourToEight) {
  TempDir dir;
  for (const char* end : {"END\n", "END  junk", "END= 1"}) {
    for (bool exact_end_follows : {false, true}) {
      SCOPED_TRACE(std::string(end) + (exact_end_follows ? " + END" : ""));
      fs::path path = dir.path() / "end.fits";
      std::string bytes;
      for (std::string card : {"SIMPLE  =                    T", "BITPIX  =                    8",
                               "NAXIS   =                    0", "ENDX    =                    1",
                               end, "AFTER   =                    3"}) {
        card.resize(80, ' ');
        bytes += card;
      }
      if (exact_end_follows) bytes += std::string("END").append(77, ' ');
      bytes.resize(2880, ' ');
      std::ofstream(path, std::ios::binary) << bytes;
      Extraction got = extract(path);
      const MetaTree& tree = got.tree;
      NodeId hdu0 = child(tree, MetaTree::kRoot, "0");
      ASSERT_NE(hdu0, MetaTree::kNotFound);
      EXPECT_EQ(tree.node(child(tree, hdu0, "ENDX")).text, "1");
      json oracle = run_oracle({path});
      const json& cards = oracle[path.string()]["hdus"][0]["cards"];
      if (exact_end_follows) {
        EXPECT_EQ(tree.node(child(tree, hdu0, "AFTER")).text, "3");
        EXPECT_NE(got.error.find("(END"), std::string::npos) << got.error;
      } else {
        EXPECT_EQ(child(tree, hdu0, "AFTER"), MetaTree::kNotFound);
        EXPECT_EQ(got.error,
                  "HDU 0: END card is followed by text in columns 4-80 (ignored, as astropy does)");
        EXPECT_EQ(compare_cards(tree, hdu0, cards, end), cards.size());
      }
    }
  }
  FitsWriter w;
  w.card("SIMPLE  =                    T")
      .card("BITPIX  =                    8")
      .card("NAXIS   =                    0")
      .card("ENDtime =                    2")
      .card("AFTER   =                    3")
      .end();
  w.write(dir.path() / "endtime.fits");
  Extraction got = extract(dir.path() / "endtime.fits");
  NodeId hdu0 = child(got.tree, MetaTree::kRoot, "0");
  EXPECT_EQ(got.tree.node(child(got.tree, hdu0, "ENDTIME")).text, "2");
  EXPECT_EQ(got.tree.node(child(got.tree, hdu0, "AFTER")).text, "3");
}

// Keywords written in lower case are shown as readers look them up: upper case (astropy,
// CFITSIO). HIERARCH keywords keep their case, as in astropy. header.txt keeps the cards as
// written.
TEST(FitsRegressions, LowercaseKeywordsAreShownUpperCase) {
  Extraction got = extract(regression("lowercase_keywords.fits"));
  EXPECT_EQ(got.error,
            "HDU 0: card 7 (DATE-OBS) at byte 480: keyword 'date-obs' is not upper case (shown "
            "as DATE-OBS, as astropy and CFITSIO read it) (and 1 more problem)");
  const MetaTree& tree = got.tree;
  NodeId hdu0 = child(tree, MetaTree::kRoot, "0");
  ASSERT_NE(hdu0, MetaTree::kNotFound);
  ASSERT_NE(child(tree, hdu0, "DATE-OBS"), MetaTree::kNotFound);
  EXPECT_EQ(tree.node(child(tree, hdu0, "DATE-OBS")).text, "2020-01-01T00:00:00");
  ASSERT_NE(child(tree, hdu0, "EXPTIME"), MetaTree::kNotFound);
  EXPECT_EQ(tree.node(child(tree, hdu0, "EXPTIME")).text, "12.5");
  EXPECT_EQ(tree.node(child(tree, hdu0, "EXPTIME")).kind, ValueKind::kNumber);
  EXPECT_EQ(child(tree, hdu0, "date-obs"), MetaTree::kNotFound);
  EXPECT_EQ(child(tree, hdu0, "exptime"), MetaTree::kNotFound);
  ASSERT_NE(child(tree, hdu0, "lower"), MetaTree::kNotFound);
  EXPECT_EQ(tree.node(child(tree, hdu0, "lower")).text, "42");
  ASSERT_NE(child(tree, hdu0, "Mixed Case Key"), MetaTree::kNotFound);
  EXPECT_EQ(tree.node(child(tree, hdu0, "Mixed Case Key")).text, "abc");
  EXPECT_NE(got.header.find("\ndate-obs= '2020-01-01T00:00:00' / lowercase standard keyword\n"),
            std::string::npos)
      << got.header;
  // Same values as astropy.
  json oracle = run_oracle({regression("lowercase_keywords.fits")});
  compare_cards(tree, hdu0, oracle.begin().value()["hdus"][0]["cards"], "lowercase_keywords");
}

// A newline or tab inside a card is escaped in header.txt as in metadata.txt, so each card
// stays one line; the values keep the bytes.
TEST(FitsRegressions, ControlCharactersKeepOneCardPerLine) {
  Extraction got = extract(regression("control_chars_in_cards.fits"));
  EXPECT_EQ(got.error,
            "HDU 0: card 5 (ORIGIN) at byte 320: byte outside printable ASCII (and 2 more "
            "problems)");
  auto sections = header_sections(got.header);
  ASSERT_EQ(sections.size(), 1u) << got.header;
  std::vector<std::string> expected = {
      "SIMPLE  =                    T / conforms to FITS standard",
      "BITPIX  =                    8 / array data type",
      "NAXIS   =                    0 / number of array dimensions",
      "EXTEND  =                    T",
      "ORIGIN  = 'CASA 4.7.0-REL (r38335)\\n'",
      "TABBED  = 'a\\tb'               / tab inside string",
      "HISTORY line with a\\ttab",
  };
  EXPECT_EQ(sections[0], expected) << got.header;
  const MetaTree& tree = got.tree;
  NodeId hdu0 = child(tree, MetaTree::kRoot, "0");
  ASSERT_NE(hdu0, MetaTree::kNotFound);
  EXPECT_EQ(tree.node(child(tree, hdu0, "ORIGIN")).text, "CASA 4.7.0-REL (r38335)\n");
  EXPECT_EQ(tree.node(child(tree, hdu0, "TABBED")).text, "a\tb");
  EXPECT_EQ(tree.node(child(tree, hdu0, "HISTORY")).items,
            std::vector<std::string>{"line with a\ttab"});
  EXPECT_NE(render_txt(tree).find("0/ORIGIN\tCASA 4.7.0-REL (r38335)\\n\n"), std::string::npos);
}

// CONTINUE cards after a string that does not end in '&' are joined to it, as astropy reads
// them; after anything else they are shown in CONTINUE, as COMMENT is. Both in error.
TEST(FitsRegressions, StrayContinueCardsAreShownAndReported) {
  Extraction got = extract(regression("stray_continue.fits"));
  EXPECT_EQ(got.error,
            "HDU 0: card 6 (CONTINUE) at byte 400: CONTINUE card after a string that does not "
            "end in '&' (joined to FILTER, as astropy does) (and 1 more problem)");
  const MetaTree& tree = got.tree;
  NodeId hdu0 = child(tree, MetaTree::kRoot, "0");
  ASSERT_NE(hdu0, MetaTree::kNotFound);
  // astropy: header['FILTER'] == 'r_SDSSstray continuation'.
  EXPECT_EQ(tree.node(child(tree, hdu0, "FILTER")).text, "r_SDSSstray continuation");
  EXPECT_EQ(tree.node(child(tree, hdu0, "EXPTIME")).text, "30.0");
  NodeId stray = child(tree, hdu0, "CONTINUE");
  ASSERT_NE(stray, MetaTree::kNotFound);
  EXPECT_EQ(tree.node(stray).items, std::vector<std::string>{"after a number"});
  EXPECT_NE(render_txt(tree).find("0/CONTINUE\tafter a number\n"), std::string::npos);
  EXPECT_NE(got.header.find("CONTINUE  'after a number'\nEND\n"), std::string::npos);

  // Every piece of a long string loses its trailing '&', as in astropy; a stray CONTINUE
  // after a non-string value is reported with its card number.
  TempDir dir;
  FitsWriter w;
  w.card("SIMPLE  =                    T")
      .card("BITPIX  =                    8")
      .card("NAXIS   =                    0")
      .card("LONG    = 'abc&'")
      .card("CONTINUE  'def&'")
      .card("CONTINUE  'ghi&'")
      .card("COMMENT after")
      .card("CONTINUE  'lost'")
      .end();
  w.write(dir.path() / "long.fits");
  Extraction long_string = extract(dir.path() / "long.fits");
  EXPECT_EQ(long_string.error,
            "HDU 0: card 8 (CONTINUE) at byte 560: CONTINUE card does not follow a string value "
            "(shown in CONTINUE)");
  NodeId long0 = child(long_string.tree, MetaTree::kRoot, "0");
  EXPECT_EQ(long_string.tree.node(child(long_string.tree, long0, "LONG")).text, "abcdefghi");
  EXPECT_EQ(long_string.tree.node(child(long_string.tree, long0, "CONTINUE")).items,
            std::vector<std::string>{"lost"});
}

// Record-valued keyword cards (the WCS distortion paper's DP1 = 'AXIS.1: 1') are the values
// astropy reads, DP1.AXIS.1 = 1, not four DP1 strings; cards that only look like them stay
// strings; header.txt keeps every card as written.
TEST(FitsRecordValuedKeywords, NamedAndValuedAsAstropyReadsThem) {
  TempDir dir;
  fs::path path = dir.path() / "distortion.fits";
  FitsWriter w;
  w.card("SIMPLE  =                    T")
      .card("BITPIX  =                    8")
      .card("NAXIS   =                    0")
      .card("CPDIS1  = 'Lookup  '")
      .card("DP1     = 'EXTVER: 1' / Version number of WCSDVARR extension")
      .card("DP1     = 'NAXES: 2'")
      .card("DP1     = 'AXIS.1: 1'")
      .card("DP1     = 'AXIS.2: 2'")
      .card("dp2     = 'Scale.x:  -2.5E3'")
      .card("DP3     = 'a.b.c: -.5'")
      .card("NOTREC1 = 'AXIS.1:1'")
      .card("NOTREC2 = 'AXIS.1: 1 '")
      .card("NOTREC3 = '1X: 1'")
      .card("NOTREC4 = 'AXIS: one'")
      .end();
  w.write(path);
  Extraction got = extract(path);
  const MetaTree& tree = got.tree;
  NodeId hdu0 = child(tree, MetaTree::kRoot, "0");
  ASSERT_NE(hdu0, MetaTree::kNotFound);
  json oracle = run_oracle({path});
  const json& cards = oracle[path.string()]["hdus"][0]["cards"];
  EXPECT_EQ(compare_cards(tree, hdu0, cards, "distortion"), cards.size());
  std::string txt = render_txt(tree);
  for (const char* line :
       {"0/DP1.EXTVER\t1\n", "0/DP1.NAXES\t2\n", "0/DP1.AXIS.1\t1\n", "0/DP1.AXIS.2\t2\n",
        "0/DP2.Scale.x\t-2.5E3\n", "0/DP3.a.b.c\t-.5\n", "0/NOTREC1\tAXIS.1:1\n",
        "0/NOTREC2\tAXIS.1: 1\n", "0/NOTREC3\t1X: 1\n", "0/NOTREC4\tAXIS: one\n"}) {
    EXPECT_NE(txt.find(line), std::string::npos) << line << "\nin:\n" << txt;
  }
  EXPECT_EQ(child(tree, hdu0, "DP1"), MetaTree::kNotFound);
  EXPECT_EQ(tree.node(child(tree, hdu0, "DP1.AXIS.2")).kind, ValueKind::kNumber);
  json j = json::parse(render_json(tree));
  EXPECT_EQ(j["0"]["DP1.NAXES"], 2);
  EXPECT_EQ(j["0"]["DP3.a.b.c"], -0.5);
  EXPECT_NE(got.header.find("\nDP1     = 'AXIS.1: 1'\nDP1     = 'AXIS.2: 2'\n"), std::string::npos)
      << got.header;
}

// tools/fidelity/fits_vs_astropy.py over the corpus and astropy's own test files: every value
// astropy reads is in metadata.json with the same value, but for the exceptions the README
// lists (the script exits 1 on any other difference).
TEST(FitsFidelity, EveryValueAstropyReadsOverCorpusAndAstropyTestData) {
  fs::path tool = test::binary("metafs-extract");
  ASSERT_TRUE(fs::exists(tool)) << "build metafs-extract first: " << tool;
  fs::path script = fs::path(METAFS_ORACLE_DIR) / "../../../tools/fidelity/fits_vs_astropy.py";
  std::string command = "/usr/bin/python3 " + test::shell_quote(script.string()) + " --extract " +
                        test::shell_quote(tool.string());
  for (const char* dir : {"fits", "malformed", "regressions/fits"})
    command += " " + test::shell_quote((test::corpus_dir() / dir).string());
  command += " /usr/lib/python3/dist-packages/astropy";
  int status = 0;
  std::string report = test::run_command(command, &status);
  std::printf("%s", report.c_str());
  EXPECT_EQ(status, 0) << report;
  EXPECT_NE(report.find("values compared: "), std::string::npos) << report;
}

// Peak RSS of this process in KiB.
long max_rss_kib() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST(FitsHuge, SparseFile64GiBWithExtensionAfterItsData) {
  TempDir dir;
  fs::path path = dir.path() / "huge.fits";
  constexpr std::uint64_t kData = std::uint64_t{64} << 30;
  constexpr std::uint64_t kPadded = (kData + 2879) / 2880 * 2880;
  FitsWriter head;
  head.card("SIMPLE  =                    T")
      .card("BITPIX  =                    8")
      .card("NAXIS   =                    1")
      .card("NAXIS1  =          68719476736")
      .card("EXTEND  =                    T")
      .end();
  FitsWriter ext;
  ext.card("XTENSION= 'IMAGE   '")
      .card("BITPIX  =                  -32")
      .card("NAXIS   =                    2")
      .card("NAXIS1  =                  100")
      .card("NAXIS2  =                  100")
      .card("PCOUNT  =                    0")
      .card("GCOUNT  =                    1")
      .card("EXTNAME = 'AFTER_64GIB'")
      .end();
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(head.bytes().data(), 1, head.bytes().size(), f);
    ASSERT_EQ(::fseeko(f, static_cast<off_t>(2880 + kPadded), SEEK_SET), 0);
    std::fwrite(ext.bytes().data(), 1, ext.bytes().size(), f);
    ASSERT_EQ(::ftruncate(::fileno(f), static_cast<off_t>(2880 + kPadded + 2880 + 40320)), 0);
    std::fclose(f);
  }
  ASSERT_EQ(fs::file_size(path), 2880 + kPadded + 2880 + 40320);
  extract(path);  // warm up code paths
  long rss_before = max_rss_kib();
  auto start = std::chrono::steady_clock::now();
  Extraction got = extract(path);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  long rss_growth = max_rss_kib() - rss_before;
  std::printf("[ huge ] 64 GiB sparse FITS described in %.3f ms, peak RSS growth %ld KiB\n", ms,
              rss_growth);
  EXPECT_EQ(got.error, "");
  NodeId after = child(got.tree, MetaTree::kRoot, "AFTER_64GIB");
  ASSERT_NE(after, MetaTree::kNotFound);
  EXPECT_EQ(got.tree.node(after).text, "1");
  EXPECT_EQ(got.tree.node(child(got.tree, child(got.tree, 0, "1"), "BITPIX")).text, "-32");
  EXPECT_LT(ms, 50.0);
  EXPECT_LT(rss_growth, 4096);
}

TEST(FitsGzip, LargerThanTheMemoryLimitStillDescribed) {
  TempDir dir;
  fs::path path = dir.path() / "big.fits.gz";
  constexpr std::uint64_t kData = std::uint64_t{768} << 20;
  FitsWriter head;
  head.card("SIMPLE  =                    T")
      .card("BITPIX  =                   16")
      .card("NAXIS   =                    2")
      .card("NAXIS1  =                16384")
      .card("NAXIS2  =                24576")
      .card("EXTEND  =                    T")
      .end();
  FitsWriter ext;
  ext.card("XTENSION= 'BINTABLE'")
      .card("BITPIX  =                    8")
      .card("NAXIS   =                    2")
      .card("NAXIS1  =                    4")
      .card("NAXIS2  =                    0")
      .card("PCOUNT  =                    0")
      .card("GCOUNT  =                    1")
      .card("TFIELDS =                    1")
      .card("TTYPE1  = 'FLUX    '")
      .card("TFORM1  = 'E       '")
      .card("TUNIT1  = 'Jy      '")
      .card("EXTNAME = 'EVENTS  '")
      .end();
  ASSERT_EQ(kData, 16384ull * 24576 * 2);
  {
    gzFile gz = gzopen(path.c_str(), "wb1");
    ASSERT_NE(gz, nullptr);
    gzwrite(gz, head.bytes().data(), static_cast<unsigned>(head.bytes().size()));
    std::string zeros(8 << 20, '\0');
    for (std::uint64_t done = 0; done < kData; done += zeros.size())
      gzwrite(gz, zeros.data(), static_cast<unsigned>(zeros.size()));
    gzwrite(gz, zeros.data(), static_cast<unsigned>((kData + 2879) / 2880 * 2880 - kData));
    gzwrite(gz, ext.bytes().data(), static_cast<unsigned>(ext.bytes().size()));
    gzclose(gz);
  }
  // The extractor runs under an address-space limit far below the inflated size.
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    struct rlimit limit {
      256ul << 20, 256ul << 20
    };
    ::setrlimit(RLIMIT_AS, &limit);
    ::alarm(60);
    Extraction got = extract(path);
    std::string report = got.error + "\n" + render_txt(got.tree);
    (void)!::write(pipefd[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipefd[0], buffer, sizeof buffer)) > 0;) report.append(buffer, n);
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_EQ(report.substr(0, report.find('\n')), "");
  EXPECT_NE(report.find("\n1/columns/1/unit\tJy\n"), std::string::npos) << report;
  EXPECT_NE(report.find("\n1/EXTNAME\tEVENTS\n"), std::string::npos) << report;
}

TEST(FitsGzip, SameAsThePlainFile) {
  TempDir dir;
  fs::path plain = test::corpus_dir() / "fits/testprog.std";
  fs::path gz = dir.path() / "testprog.fits.gz";
  std::string bytes = test::read_file(plain);
  gzFile out = gzopen(gz.c_str(), "wb");
  gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(out);
  Extraction a = extract(plain), b = extract(gz);
  EXPECT_EQ(a.error, "");
  EXPECT_EQ(b.error, "");
  EXPECT_TRUE(a.tree == b.tree);
  EXPECT_EQ(a.header, b.header);
  EXPECT_EQ(a.tree.node(MetaTree::kRoot).children.size(), 8u + 2u);  // 8 HDUs + 2 unique EXTNAMEs

  // A gzip stream cut in the middle: what was read, and why it stopped.
  std::string packed = test::read_file(gz);
  std::ofstream(dir.path() / "cut.fits.gz", std::ios::binary)
      << packed.substr(0, packed.size() / 2);
  Extraction cut = extract(dir.path() / "cut.fits.gz");
  EXPECT_NE(cut.error.find("gzip: compressed stream truncated"), std::string::npos) << cut.error;
  EXPECT_NE(child(cut.tree, MetaTree::kRoot, "0"), MetaTree::kNotFound);
}

TEST(FitsThreads, ConcurrentExtractionsAgree) {
  auto files = test::corpus_files("fits");
  std::vector<std::string> expected;
  for (const auto& f : files) expected.push_back(render_txt(extract(f).tree) + extract(f).header);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int round = 0; round < 5; ++round) {
        for (std::size_t i = 0; i < files.size(); ++i) {
          Extraction got = extract(files[i]);
          if (render_txt(got.tree) + got.header != expected[i]) ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(FitsCli, MetafsExtractPrintsTheSameFiles) {
  fs::path tool = test::binary("metafs-extract");
  ASSERT_TRUE(fs::exists(tool)) << "build metafs-extract first: " << tool;
  fs::path file = test::corpus_dir() / "fits/m13_hcomp.fits";
  Extraction got = extract(file);
  int status = 0;
  std::string q = test::shell_quote(tool.string()) + " " + test::shell_quote(file.string());
  EXPECT_EQ(test::run_command(q + " --as txt", &status), render_txt(got.tree));
  EXPECT_EQ(status, 0);
  EXPECT_EQ(test::run_command(q + " --as header", &status), got.header);
  EXPECT_EQ(test::run_command(q + " --as format", &status), "fits\n");
  json j = json::parse(test::run_command(q + " --as json", &status));
  EXPECT_EQ(j["1"]["NAXIS1"], 300);
  EXPECT_EQ(j["1"]["compressed"]["ZCMPTYPE"], "HCOMPRESS_1");
  EXPECT_EQ(j["1"]["type"], "compressed image");
}

// Writes tile-compressed images whose table header CFITSIO's imcomp rebuilds badly: cards
// before ZIMAGE, a second EXTNAME next to COMPRESSED_IMAGE, a missing ZNAXIS2, an invalid
// ZBITPIX. Prints astropy's header of each compressed HDU (null where astropy cannot).
constexpr const char* kTileScript = R"(
import json, sys, numpy as np
from astropy.io import fits
out = sys.argv[1]
h = fits.CompImageHDU(np.arange(64, dtype=np.int16).reshape(8, 8), name='SCI',
                      compression_type='RICE_1')
h.header['OBSERVER'] = 'me'
fits.HDUList([fits.PrimaryHDU(), h]).writeto(out + '/base.fits')
raw = open(out + '/base.fits', 'rb').read()
cards, off = [], 2880
while raw[off:off + 8] != b'END     ':
    cards.append(raw[off:off + 80].decode()); off += 80
data = raw[2880 + (off - 2880 + 80 + 2879) // 2880 * 2880:]
key = lambda c: c[:8].strip()
def write(name, cs):
    b = ''.join(c.ljust(80) for c in cs) + 'END'.ljust(80)
    open(out + '/' + name, 'wb').write(raw[:2880] + b.ljust(-(-len(b) // 2880) * 2880).encode() + data)
zi = [key(c) for c in cards].index('ZIMAGE')
write('order.fits', cards[:zi] + ['BSCALE  =                  2.0', 'BZERO   =                 10.0'] + cards[zi:])
named = [c for c in cards if key(c) != 'EXTNAME']
write('two_names.fits', named[:zi + 1] + ["EXTNAME = 'COMPRESSED_IMAGE'"] + named[zi + 1:] + ["EXTNAME = 'SCI     '"])
zc = [key(c) for c in named].index('ZCMPTYPE')
write('names_apart.fits', named[:zc] + ["EXTNAME = 'COMPRESSED_IMAGE'"] + named[zc:] + ["EXTNAME = 'SCI     '", "DATE    = '2008-11-01'"])
write('no_znaxis2.fits', [c for c in cards if key(c) != 'ZNAXIS2'])
write('bad_zbitpix.fits', [c if key(c) != 'ZBITPIX' else 'ZBITPIX =                   17' for c in cards])
result = {}
for name in ['base.fits', 'order.fits', 'two_names.fits', 'names_apart.fits', 'no_znaxis2.fits', 'bad_zbitpix.fits']:
    try:
        header = fits.open(out + '/' + name)[1].header
        result[name] = [card.image.rstrip() for card in header.cards]
    except Exception:
        result[name] = None
print(json.dumps(result))
)";

// The image header of a compressed HDU reads as astropy rebuilds it: XTENSION first, the
// image's own EXTNAME (and fields/<EXTNAME>) when the table has COMPRESSED_IMAGE too, and an
// error beside the cards where funpack refuses the header.
TEST(FitsRegressions, TileCompressedImageHeaderAsAstropyAndFunpackRead) {
  TempDir dir;
  fs::path script = dir.path() / "make_tiles.py";
  std::ofstream(script) << kTileScript;
  int status = 0;
  std::string output = test::run_command("/usr/bin/python3 " + test::shell_quote(script.string()) +
                                             " " + test::shell_quote(dir.path().string()),
                                         &status);
  ASSERT_EQ(status, 0) << output;
  json astropy = json::parse(output);
  auto funpack_accepts = [&](const std::string& name) {
    int rc = 0;
    test::run_command(
        "funpack -S " + test::shell_quote((dir.path() / name).string()) + " >/dev/null 2>&1", &rc);
    return rc == 0;
  };
  for (const std::string name : {"base.fits", "order.fits", "two_names.fits", "names_apart.fits"}) {
    SCOPED_TRACE(name);
    Extraction got = extract(dir.path() / name);
    EXPECT_EQ(got.error, "");
    auto sections = header_sections(got.header);
    ASSERT_EQ(sections.size(), 3u) << got.header;
    std::vector<std::string> expected = astropy[name];
    EXPECT_EQ(sections[1], expected) << got.header;
    ASSERT_FALSE(sections[1].empty());
    EXPECT_EQ(sections[1].front().rfind("XTENSION= 'IMAGE", 0), 0u);
    const MetaTree& tree = got.tree;
    NodeId hdu1 = child(tree, MetaTree::kRoot, "1");
    EXPECT_EQ(tree.node(child(tree, hdu1, "EXTNAME")).text, "SCI");
    EXPECT_EQ(child(tree, hdu1, "EXTNAME#2"), MetaTree::kNotFound);
    NodeId link = child(tree, MetaTree::kRoot, "SCI");
    ASSERT_NE(link, MetaTree::kNotFound);
    EXPECT_EQ(tree.node(link).type, MetaNode::Type::kLink);
    EXPECT_EQ(tree.node(link).text, "1");
    EXPECT_EQ(child(tree, MetaTree::kRoot, "COMPRESSED_IMAGE"), MetaTree::kNotFound);
  }
  EXPECT_TRUE(funpack_accepts("base.fits"));
  EXPECT_EQ(astropy["order.fits"][7], "BSCALE  =                  2.0");

  // funpack refuses these; the cards CFITSIO rebuilt are still shown, with why in error.
  struct Refused {
    const char* name;
    const char* error;
    const char* missing;
  };
  for (const Refused& refused :
       {Refused{"no_znaxis2.fits",
                "HDU 1: tile-compressed image: the image header is invalid: missing NAXISn "
                "keywords (required ZNAXISn compression keyword not found)",
                "NAXIS2"},
        Refused{"bad_zbitpix.fits",
                "HDU 1: tile-compressed image: the image header is invalid: illegal BITPIX "
                "keyword value (Illegal value for BITPIX keyword: 17)",
                nullptr}}) {
    SCOPED_TRACE(refused.name);
    EXPECT_FALSE(funpack_accepts(refused.name));
    Extraction got = extract(dir.path() / refused.name);
    EXPECT_EQ(got.error, refused.error);
    const MetaTree& tree = got.tree;
    NodeId hdu1 = child(tree, MetaTree::kRoot, "1");
    ASSERT_NE(hdu1, MetaTree::kNotFound);
    EXPECT_EQ(tree.node(child(tree, hdu1, "XTENSION")).text, "IMAGE");
    EXPECT_EQ(tree.node(child(tree, hdu1, "OBSERVER")).text, "me");
    if (refused.missing != nullptr) {
      EXPECT_EQ(child(tree, hdu1, refused.missing), MetaTree::kNotFound);
    } else {
      EXPECT_EQ(tree.node(child(tree, hdu1, "BITPIX")).text, "17");
    }
    EXPECT_NE(got.header.find("# HDU 1 compressed image, as funpack writes it SCI"),
              std::string::npos);
    EXPECT_NE(child(tree, MetaTree::kRoot, "SCI"), MetaTree::kNotFound);
  }
}

// Only the header of a compressed image is read: one that declares 30000 x 30000 doubles in a
// 3 KB file is described without room for its pixels (CFITSIO sized the rebuilt header's memory
// file to the whole image and zeroed it when it closed: 16.7 s and 7 GB).
TEST(FitsRegressions, ACompressedImageDeclaringHugeDimensionsIsNotAllocated) {
  TempDir dir;
  std::ifstream in(test::corpus_dir() / "fits/test_rice_dither2_seed42.fits.fz", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const std::string key : {"ZNAXIS1", "ZNAXIS2"}) {
    std::size_t at = bytes.find(key + std::string(8 - key.size(), ' ') + "=");
    ASSERT_NE(at, std::string::npos) << key;
    std::string card = key + std::string(8 - key.size(), ' ') + "=                30000";
    card.resize(80, ' ');
    bytes.replace(at, 80, card);
  }
  const fs::path huge = dir.path() / "huge.fits.fz";
  std::ofstream(huge, std::ios::binary) << bytes;

  struct rusage before {};
  ::getrusage(RUSAGE_SELF, &before);
  Extraction got = extract(huge);
  struct rusage after {};
  ::getrusage(RUSAGE_SELF, &after);
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 256 * 1024) << "KiB of peak RSS added";
  EXPECT_EQ(got.error, "");
  NodeId hdu1 = child(got.tree, MetaTree::kRoot, "1");
  ASSERT_NE(hdu1, MetaTree::kNotFound);
  EXPECT_EQ(got.tree.node(child(got.tree, hdu1, "NAXIS1")).text, "30000");
  EXPECT_EQ(got.tree.node(child(got.tree, hdu1, "NAXIS2")).text, "30000");
  EXPECT_EQ(got.tree.node(child(got.tree, hdu1, "BITPIX")).text, "-64");
}

}  // namespace
}  // namespace metafs::extract
