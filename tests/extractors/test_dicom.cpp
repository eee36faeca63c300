// The DICOM extractor against the reference tools: dcmdump (every element and its value,
// header.txt line by line) and pydicom (text decoded according to Specific Character Set).
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdicent.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "corpus.hpp"
#include "dicom/dicom_extractor.hpp"
#include "dicom/dicom_reader.hpp"
#include "dicom/dicom_text.hpp"
#include "dicom_builder.hpp"
#include "mount_runner.hpp"
#include "render.hpp"
#include "temp_dir.hpp"

namespace metafs::extract {
namespace {

namespace fs = std::filesystem;
using metafs::test::corpus_dir;
using metafs::test::corpus_files;
using metafs::test::run_command;
using metafs::test::shell_quote;

const std::string kOracle = (fs::path(METAFS_ORACLE_DIR) / "dicom_oracle.py").string();
// dcmdump (also as the oracle runs it) with the dictionaries metafs uses: DCMTK's own and the
// private one generated from pydicom's.
const std::string kDictionaries =
    "DCMDICTPATH=" +
    shell_quote(std::string(DCM_DICT_DEFAULT_PATH) + ":" + METAFS_DICOM_PRIVATE_DIC) + " ";

struct Result {
  Extraction extraction;
  std::string error;  // what ExtractError said, "" when complete
};

Result extract(const fs::path& path) {
  static const std::unique_ptr<Extractor> extractor = make_dicom_extractor();
  Result result;
  result.extraction.format = Format::kDicom;
  try {
    extractor->extract(open_source_file(path), result.extraction);
  } catch (const ExtractError& e) {
    result.error = e.what();
  }
  return result;
}

// Every value of fields/ by its path.
std::map<std::string, std::string> values_by_path(const MetaTree& tree) {
  std::map<std::string, std::string> values;
  for (NodeId id = 0; id < tree.size(); ++id) {
    if (tree.node(id).type == MetaNode::Type::kValue) values[tree.path(id)] = tree.node(id).text;
  }
  return values;
}

struct CorpusFile {
  fs::path path;
  bool reference_reads_it = true;  // dcmdump's verdict in MANIFEST.tsv
};

// The DICOM files of the corpus: every file of dicom/, and the DICOM files of malformed/.
std::vector<CorpusFile> dicom_corpus() {
  std::vector<CorpusFile> files;
  for (const auto& path : corpus_files("dicom")) files.push_back({path, true});
  std::ifstream manifest(corpus_dir() / "MANIFEST.tsv");
  std::string line;
  while (std::getline(manifest, line)) {
    std::vector<std::string> columns;
    std::stringstream row(line);
    for (std::string column; std::getline(row, column, '\t');) columns.push_back(column);
    if (columns.size() < 10 || columns[1] != "dicom" || columns[0].rfind("malformed/", 0) != 0)
      continue;
    files.push_back({corpus_dir() / columns[0], columns[9] == "ok"});
  }
  EXPECT_GE(files.size(), 19u) << "DICOM corpus smaller than expected";
  return files;
}

std::vector<nlohmann::json> oracle(const std::string& mode, const fs::path& file) {
  int status = -1;
  std::string out = run_command(kDictionaries + "/usr/bin/python3 " + shell_quote(kOracle) + " " +
                                    mode + " " + shell_quote(file.string()),
                                &status);
  EXPECT_EQ(status, 0) << "oracle failed on " << file;
  std::vector<nlohmann::json> rows;
  std::stringstream lines(out);
  for (std::string line; std::getline(lines, line);) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

bool numbers_match(const std::string& expected, const std::string& actual, double tolerance) {
  std::stringstream a(expected), b(actual);
  std::string x, y;
  while (true) {
    bool more_a = static_cast<bool>(std::getline(a, x, '\\'));
    bool more_b = static_cast<bool>(std::getline(b, y, '\\'));
    if (more_a != more_b) return false;
    if (!more_a) return true;
    double u = std::strtod(x.c_str(), nullptr), v = std::strtod(y.c_str(), nullptr);
    if (std::isnan(u) && std::isnan(v)) continue;
    if (std::fabs(u - v) > tolerance * std::max(1.0, std::fabs(u))) return false;
  }
}

bool value_matches(const nlohmann::json& row, const std::string& actual) {
  const std::string expected = row["value"];
  const std::string compare = row["compare"];
  if (compare == "float32") return numbers_match(expected, actual, 1e-6);
  if (compare == "float64") return numbers_match(expected, actual, 1e-14);
  return expected == actual;
}

// Every element dcmdump prints (Pixel Data aside) is in fields/ with the same value.
TEST(DicomExtractor, EveryElementOfDcmdumpWithTheSameValue) {
  std::size_t expected_total = 0, matched_total = 0;
  for (const auto& file : dicom_corpus()) {
    if (!file.reference_reads_it) continue;
    SCOPED_TRACE(file.path.string());
    Result result = extract(file.path);
    EXPECT_EQ(result.error, "");
    auto values = values_by_path(result.extraction.tree);
    std::string txt = render_txt(result.extraction.tree);
    auto rows = oracle("dcmdump", file.path);
    EXPECT_FALSE(rows.empty());
    std::size_t matched = 0;
    for (const auto& row : rows) {
      auto it = values.find(row["path"]);
      if (it == values.end()) {
        ADD_FAILURE() << "missing " << row["path"] << " = " << row["value"];
      } else if (!value_matches(row, it->second)) {
        ADD_FAILURE() << row["path"] << ": expected '" << std::string(row["value"]) << "', got '"
                      << it->second << "'";
      } else {
        // ... and metadata.txt has the same line.
        std::string line;
        append_escaped_value(line, it->second);
        EXPECT_NE(txt.find(std::string(row["path"]) + "\t" + line + "\n"), std::string::npos)
            << row["path"];
        ++matched;
      }
    }
    expected_total += rows.size();
    matched_total += matched;
  }
  std::cout << "[ fidelity ] dcmdump values matched " << matched_total << " / " << expected_total
            << "\n";
  EXPECT_EQ(matched_total, expected_total);
  EXPECT_GT(expected_total, 2000u);
}

// Names and other text in the character-set files are what pydicom decodes.
TEST(DicomExtractor, TextDecodedLikePydicom) {
  const std::vector<std::string> files = {
      "dicom/chrGB2312.dcm",                    // '\ISO 2022 IR 58': ISO 2022 code extensions
      "dicom/GH1301.dcm",                       // GB18030
      "dicom/SC_rgb_small_odd_big_endian.dcm",  // ISO_IR 192 (UTF-8)
      "dicom/fo-dicom_mr.dcm",                  // ISO_IR 100 (Latin-1)
      "dicom/GH064.dcm",
      "dicom/fo-dicom_dicomdir/DICOMDIR",
  };
  std::size_t compared = 0, non_ascii = 0;
  for (const auto& name : files) {
    fs::path path = corpus_dir() / name;
    SCOPED_TRACE(name);
    Result result = extract(path);
    auto values = values_by_path(result.extraction.tree);
    for (const auto& row : oracle("pydicom", path)) {
      std::string expected = row["value"];
      auto it = values.find(row["path"]);
      if (it == values.end()) {
        ADD_FAILURE() << "missing " << row["path"];
        continue;
      }
      std::string actual = it->second;
      if (row["pn"]) {  // pydicom drops empty trailing name groups ("A=B=" -> "A=B")
        while (!actual.empty() && actual.back() == '=') actual.pop_back();
        while (!expected.empty() && expected.back() == '=') expected.pop_back();
      }
      EXPECT_EQ(actual, expected) << row["path"];
      ++compared;
      for (char c : expected) non_ascii += static_cast<unsigned char>(c) >= 0x80;
    }
  }
  EXPECT_GT(compared, 100u);
  EXPECT_GT(non_ascii, 10u) << "the character-set files should have non-ASCII names";
  // Spot checks of the point of the exercise.
  auto gb2312 = values_by_path(extract(corpus_dir() / "dicom/chrGB2312.dcm").extraction.tree);
  EXPECT_EQ(gb2312["PatientName"], "Zhang^XiaoDong=张^小东=");
  auto gb18030 = values_by_path(extract(corpus_dir() / "dicom/GH1301.dcm").extraction.tree);
  EXPECT_EQ(gb18030["PatientName"], "Wang^XiaoDong=王^小东=");
}

// OF, OD, OL and OV hold one value of many numbers (VM 1): every number is shown, as dcmdump
// prints them (regressions/dicom: only the first was).
TEST(DicomExtractor, EveryNumberOfBinaryNumericVrsLikeDcmdump) {
  std::size_t multi = 0;
  for (const char* name :
       {"vr_sv_uv_ov_extremes.dcm", "extended_offset_table.dcm", "small_binary_vrs.dcm"}) {
    fs::path file = corpus_dir() / "regressions" / "dicom" / name;
    SCOPED_TRACE(file.string());
    auto values = values_by_path(extract(file).extraction.tree);
    auto rows = oracle("dcmdump", file);
    EXPECT_FALSE(rows.empty());
    for (const auto& row : rows) {
      auto it = values.find(row["path"]);
      ASSERT_NE(it, values.end()) << row["path"];
      EXPECT_TRUE(value_matches(row, it->second))
          << row["path"] << ": expected '" << std::string(row["value"]) << "', got '" << it->second
          << "'";
      if (it->second.find('\\') != std::string::npos) ++multi;
    }
  }
  EXPECT_GE(multi, 8u);  // OV x3, OF x2, OL, OW, SV, UV: several numbers each
}

// Bytes the character set cannot decode are escaped after the value is split at the file's own
// separators: as many values as pydicom reads (regressions/dicom: "Klinik K\xF6ln" was
// ["Klinik K","xF6ln"] in metadata.json).
TEST(DicomExtractor, AnUndecodableByteNeverSplitsAValue) {
  fs::path file = corpus_dir() / "regressions" / "dicom" / "charset_undeclared_latin1.dcm";
  auto json = nlohmann::json::parse(render_json(extract(file).extraction.tree));
  std::string vms =
      run_command("/usr/bin/python3 -c " +
                  shell_quote("import sys,pydicom\n"
                              "ds=pydicom.dcmread(sys.argv[1])\n"
                              "for k in ['InstitutionName','StudyDescription','PatientName']:\n"
                              "  print(k, ds.data_element(k).VM)") +
                  " " + shell_quote(file.string()));
  std::stringstream lines(vms);
  int checked = 0;
  for (std::string keyword; lines >> keyword;) {
    int vm = 0;
    lines >> vm;
    ASSERT_TRUE(json.contains(keyword)) << keyword;
    const auto& value = json[keyword];
    EXPECT_EQ(value.is_array() ? static_cast<int>(value.size()) : 1, vm) << keyword << " " << value;
    ++checked;
  }
  EXPECT_EQ(checked, 3) << vms;
  // No character set declared: read as ISO 8859-1, as pydicom does.
  EXPECT_EQ(json["InstitutionName"], "Klinik Köln");

  // Declared UTF-8 with bytes that are not: escaped, and still one value per separator.
  test::TempDir dir;
  fs::path bad = dir.path() / "bad_utf8.dcm";
  test::DicomBuilder builder;
  builder.text(0x0008, 0x0005, "CS", "ISO_IR 192")
      .text(0x0008, 0x0080, "LO", "Klinik K\xF6ln")
      .text(0x0008, 0x1030, "LO",
            "K\xF6rper\\Sch\xE4"
            "del");
  test::write_file(bad, builder.bytes());
  auto escaped = nlohmann::json::parse(render_json(extract(bad).extraction.tree));
  EXPECT_EQ(escaped["InstitutionName"], "Klinik K\\xF6ln");
  EXPECT_EQ(escaped["StudyDescription"], nlohmann::json({"K\\xF6rper", "Sch\\xE4del"}));
}

// header.txt is text: a value padded with NUL (DS "-1024\0", as in D_CLUNIE_CT1_RLE_FRAGS)
// shows the pad as \x00, as metadata.txt does, and grep sees no binary file.
TEST(DicomExtractor, HeaderTextHasNoNulBytes) {
  test::TempDir dir;
  fs::path file = dir.path() / "nul_padded.dcm";
  test::DicomBuilder builder;
  builder.text(0x0028, 0x1052, "DS", std::string("-1024\0", 6));
  test::write_file(file, builder.bytes());
  std::string header = extract(file).extraction.header;
  EXPECT_EQ(header.find('\0'), std::string::npos);
  EXPECT_NE(header.find("[-1024\\x00]"), std::string::npos) << header;
  fs::path text = dir.path() / "header.txt";
  test::write_file(text, header);
  std::string grep = run_command("grep RescaleIntercept " + shell_quote(text.string()));
  EXPECT_NE(grep.find("(0028,1052) DS"), std::string::npos) << grep;  // not "binary file"
}

// Encapsulated Pixel Data inside a sequence (an icon image) is summarised as at the top level,
// with the fragments dcmdump lists (regressions/dicom: it was an empty value).
TEST(DicomExtractor, EncapsulatedPixelDataInASequenceIsSummarised) {
  fs::path file = corpus_dir() / "regressions" / "dicom" / "icon_encapsulated_in_sequence.dcm";
  std::string items = run_command("dcmdump " + shell_quote(file.string()) + " | grep ' pi '");
  std::stringstream lines(items);
  std::uint64_t fragments = 0, bytes = 0;
  for (std::string line; std::getline(lines, line);) {
    auto hash = line.rfind('#');
    ASSERT_NE(hash, std::string::npos) << line;
    bytes += std::stoull(line.substr(hash + 1));
    ++fragments;
  }
  ASSERT_GE(fragments, 2u) << items;
  auto values = values_by_path(extract(file).extraction.tree);
  EXPECT_EQ(values["IconImageSequence/0/PixelData"], "<encapsulated, " + std::to_string(fragments) +
                                                         " fragments, " + std::to_string(bytes) +
                                                         " bytes>");
}

// A meta header that names explicit VR for a dataset written in implicit VR (a known
// real-world defect): read as the dataset really is, as pydicom does, and said in `error`.
// Before: an error and no values.
TEST(DicomExtractor, ATransferSyntaxThatLiesIsReadAsTheDatasetIs) {
  test::TempDir dir;
  fs::path file = dir.path() / "liar.dcm";
  int status = -1;
  std::string out = run_command(
      "/usr/bin/python3 -c " +
          shell_quote(
              "import sys\n"
              "from pydicom.dataset import Dataset, FileMetaDataset\n"
              "from pydicom.uid import ExplicitVRLittleEndian\n"
              "ds = Dataset(); ds.Modality = 'MR'; ds.PatientID = 'LIAR01'\n"
              "ds.PatientName = 'Doe^John'; ds.Rows = 4\n"
              "m = FileMetaDataset(); m.TransferSyntaxUID = ExplicitVRLittleEndian\n"
              "m.MediaStorageSOPClassUID = '1.2.3'; m.MediaStorageSOPInstanceUID = '1.2.3.4'\n"
              "ds.file_meta = m; ds.preamble = bytes(128)\n"
              "ds.is_little_endian = True; ds.is_implicit_VR = True\n"
              "ds.save_as(sys.argv[1], write_like_original=True)\n") +
          " " + shell_quote(file.string()) + " 2>&1",
      &status);
  ASSERT_EQ(status, 0) << out;
  Result result = extract(file);
  auto values = values_by_path(result.extraction.tree);
  EXPECT_EQ(values["Modality"], "MR");
  EXPECT_EQ(values["PatientName"], "Doe^John");
  EXPECT_EQ(values["PatientID"], "LIAR01");
  EXPECT_EQ(values["Rows"], "4");
  EXPECT_NE(result.error.find("the file meta header says Little Endian Explicit but the dataset "
                              "is Little Endian Implicit"),
            std::string::npos)
      << result.error;
}

// header.txt is dcmdump's own output (stopping before Pixel Data), plus one Pixel Data line.
TEST(DicomExtractor, HeaderIsDcmdumpOutput) {
  for (const auto& path : corpus_files("dicom")) {
    SCOPED_TRACE(path.string());
    Result result = extract(path);
    std::string expected = run_command(kDictionaries + "dcmdump -M +U8 +uc +sb 7fe0,0010 " +
                                       shell_quote(path.string()) + " 2>/dev/null");
    // Bytes that are not UTF-8 (a GB18030 value in a CS element) are escaped in header.txt.
    expected = dicom::utf8_or_escaped(expected);
    // NUL bytes (a value padded with NUL) are \x00: header.txt is text.
    for (std::size_t at = 0; (at = expected.find('\0', at)) != std::string::npos; at += 4) {
      expected.replace(at, 1, "\\x00");
    }
    const std::string& header = result.extraction.header;
    ASSERT_GE(header.size(), expected.size());
    EXPECT_EQ(header.substr(0, expected.size()), expected);
    std::string rest = header.substr(expected.size());
    if (!rest.empty()) {
      EXPECT_EQ(rest.rfind("(7fe0,0010) O", 0), 0u) << rest;
      EXPECT_NE(rest.find("PixelData\n"), std::string::npos) << rest;
    }
  }
}

TEST(DicomExtractor, NamesSequencesPrivateTagsAndNumbers) {
  Result mr = extract(corpus_dir() / "dicom/fo-dicom_mr.dcm");
  ASSERT_EQ(mr.error, "");
  auto values = values_by_path(mr.extraction.tree);
  EXPECT_EQ(values["Modality"], "MR");
  EXPECT_EQ(values["0019,0010"], "GEMS_ACQU_01");    // the private creator stays visible
  EXPECT_EQ(values["0019,1019"], "-30.000000");      // DS of a private element, no padding
  EXPECT_EQ(values["RepetitionTime"], "75.600000");  // stored " 75.600000"
  EXPECT_EQ(values["PixelData"], "<binary, 131072 bytes>");
  std::string json = render_json(mr.extraction.tree);
  EXPECT_NE(json.find("\"RepetitionTime\":75.600000"), std::string::npos);
  EXPECT_NE(json.find("\"Rows\":256"), std::string::npos);

  Result sr = extract(corpus_dir() / "dicom/dwv_tid1500_sr-rectangle.dcm");
  auto sr_values = values_by_path(sr.extraction.tree);
  EXPECT_EQ(sr_values["ConceptNameCodeSequence/0/CodeValue"], "126000");
  EXPECT_EQ(sr_values["ContentSequence/0/ConceptNameCodeSequence/0/CodeMeaning"],
            "Imaging Measurements");

  Result dicomdir = extract(corpus_dir() / "dicom/fo-dicom_dicomdir/DICOMDIR");
  auto dir_values = values_by_path(dicomdir.extraction.tree);
  EXPECT_EQ(dir_values["DirectoryRecordSequence/0/DirectoryRecordType"], "PATIENT");
  EXPECT_TRUE(dir_values.count("DirectoryRecordSequence/79/DirectoryRecordType"));
  EXPECT_FALSE(dir_values.count("DirectoryRecordSequence/80/DirectoryRecordType"));

  // Multi-valued elements: one file with the values joined by '\', a JSON array.
  Result icon = extract(corpus_dir() / "dicom/JPEGwithIcon.dcm");
  auto icon_values = values_by_path(icon.extraction.tree);
  EXPECT_EQ(icon_values["IconImageSequence/0/PixelAspectRatio"], "1\\1");
  EXPECT_EQ(icon_values["IconImageSequence/0/RedPaletteColorLookupTableData"],
            "<binary, 256 bytes>");
  EXPECT_EQ(icon_values["PixelData"], "<encapsulated, not read>");
  EXPECT_NE(
      render_json(icon.extraction.tree).find("\"RedPaletteColorLookupTableDescriptor\":[256,0,8]"),
      std::string::npos);
}

TEST(DicomExtractor, DicomJsonModel) {
  Result result = extract(corpus_dir() / "dicom/chrGB2312.dcm");
  ASSERT_EQ(result.extraction.extra_files.size(), 1u);
  ASSERT_EQ(result.extraction.extra_files[0].first, "dicom.json");
  auto json = nlohmann::json::parse(result.extraction.extra_files[0].second);
  EXPECT_EQ(json["00100010"]["vr"], "PN");
  EXPECT_EQ(json["00100010"]["Value"][0]["Alphabetic"], "Zhang^XiaoDong");
  EXPECT_EQ(json["00100010"]["Value"][0]["Ideographic"], "张^小东");
  EXPECT_EQ(json["00280010"]["Value"][0], 32);
  EXPECT_EQ(json["00080060"]["Value"][0], "OT");
  EXPECT_FALSE(json.contains("7FE00010")) << "bulk data is omitted";
  EXPECT_FALSE(json.contains("00020010")) << "the meta header is not part of the dataset";
  EXPECT_FALSE(json["00080020"].contains("Value")) << "empty values have no Value";

  // Against pydicom's own DICOM JSON for the values both write the same way.
  Result mr = extract(corpus_dir() / "dicom/fo-dicom_mr.dcm");
  auto ours = nlohmann::json::parse(mr.extraction.extra_files[0].second);
  std::string theirs_text = run_command(
      "/usr/bin/python3 -c 'import sys,json,pydicom; ds=pydicom.dcmread(sys.argv[1],"
      "stop_before_pixels=True); print(json.dumps(ds.to_json_dict(bulk_data_threshold=16,"
      "bulk_data_element_handler=lambda e: \"\")))' " +
      shell_quote((corpus_dir() / "dicom/fo-dicom_mr.dcm").string()));
  auto theirs = nlohmann::json::parse(theirs_text);
  std::size_t compared = 0;
  for (const auto& [key, attribute] : theirs.items()) {
    if (!attribute.contains("Value") || attribute["vr"] == "SQ") continue;
    ASSERT_TRUE(ours.contains(key)) << key;
    EXPECT_EQ(ours[key]["vr"], attribute["vr"]) << key;
    EXPECT_EQ(ours[key]["Value"], attribute["Value"]) << key;
    ++compared;
  }
  EXPECT_GT(compared, 100u);
}

// Truncated and malformed files give an error, plus what was read before the damage.
TEST(DicomExtractor, BrokenFilesGiveErrorAndPartialTree) {
  for (const auto& file : dicom_corpus()) {
    if (file.reference_reads_it) continue;
    SCOPED_TRACE(file.path.string());
    Result result = extract(file.path);
    EXPECT_NE(result.error, "");
    EXPECT_EQ(result.error.find('\n'), std::string::npos);
    auto values = values_by_path(result.extraction.tree);
    EXPECT_TRUE(values.count("TransferSyntaxUID")) << "the meta header was read";
  }
  // A valid file cut in the middle of its dataset.
  fs::path dir = fs::temp_directory_path() / ("metafs-dicom-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path cut = dir / "truncated.dcm";
  std::string bytes = metafs::test::read_file(corpus_dir() / "dicom/fo-dicom_mr.dcm");
  for (std::size_t size : {100ul, 140ul, 400ul, 3000ul, 5000ul}) {
    SCOPED_TRACE(size);
    std::ofstream(cut, std::ios::binary) << bytes.substr(0, size);
    Result result = extract(cut);
    EXPECT_NE(result.error, "");
    if (size >= 3000) {
      EXPECT_EQ(values_by_path(result.extraction.tree)["Modality"], "MR");
    }
  }
  fs::remove_all(dir);
}

// Writes an explicit VR little endian file whose Pixel Data (OW) has `pixel_bytes` bytes,
// as a sparse file: nothing of the pixel data is on disk.
void write_sparse_dicom(const fs::path& path, std::uint32_t pixel_bytes) {
  std::string data(128, '\0');
  data += "DICM";
  auto u16 = [&](std::uint16_t v) {
    data += char(v & 0xFF);
    data += char(v >> 8);
  };
  auto u32 = [&](std::uint32_t v) {
    u16(v & 0xFFFF);
    u16(v >> 16);
  };
  auto short_element = [&](std::uint16_t g, std::uint16_t e, const char* vr, std::string v) {
    if (v.size() % 2) v += (vr[0] == 'U' && vr[1] == 'I') ? '\0' : ' ';
    u16(g), u16(e), data += vr, u16(static_cast<std::uint16_t>(v.size())), data += v;
  };
  auto us = [&](std::uint16_t g, std::uint16_t e, std::uint16_t v) {
    u16(g), u16(e), data += "US", u16(2), u16(v);
  };
  std::string meta;
  {
    std::string saved;
    std::swap(saved, data);
    short_element(0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.7");
    short_element(0x0002, 0x0003, "UI", "1.2.3.4.5");
    short_element(0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1");
    std::swap(saved, data);
    meta = saved;
  }
  u16(0x0002), u16(0x0000), data += "UL", u16(4), u32(static_cast<std::uint32_t>(meta.size()));
  data += meta;
  short_element(0x0008, 0x0060, "CS", "OT");
  short_element(0x0010, 0x0010, "PN", "Huge^Sparse");
  us(0x0028, 0x0010, 32768);
  us(0x0028, 0x0011, 65535);
  us(0x0028, 0x0100, 16);
  u16(0x7FE0), u16(0x0010), data += "OW", u16(0), u32(pixel_bytes);
  std::ofstream(path, std::ios::binary) << data;
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(data.size() + pixel_bytes)), 0);
  ::close(fd);
}

std::uint64_t bytes_read_by_this_process() {
  std::ifstream io("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (io >> key >> value) {
    if (key == "rchar:") return value;
  }
  return 0;
}

TEST(DicomExtractor, FourGibPixelDataIsDescribedWithoutReadingIt) {
  fs::path dir = fs::temp_directory_path() / ("metafs-dicom-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path huge = dir / "huge.dcm";
  const std::uint32_t pixel_bytes = 0xFFFFFFF0u;  // the largest even defined length
  write_sparse_dicom(huge, pixel_bytes);
  ASSERT_GT(fs::file_size(huge), 4000000000ull);

  std::uint64_t before = bytes_read_by_this_process();
  auto start = std::chrono::steady_clock::now();
  Result result = extract(huge);
  auto elapsed = std::chrono::steady_clock::now() - start;
  std::uint64_t read = bytes_read_by_this_process() - before;

  EXPECT_EQ(result.error, "");
  auto values = values_by_path(result.extraction.tree);
  EXPECT_EQ(values["PatientName"], "Huge^Sparse");
  EXPECT_EQ(values["Rows"], "32768");
  EXPECT_EQ(values["PixelData"], "<binary, 4294967280 bytes>");
  EXPECT_NE(result.extraction.header.find("# 4294967280, 1 PixelData"), std::string::npos);
  EXPECT_LT(read, 1u << 20) << "bytes read";
  EXPECT_LT(std::chrono::duration<double>(elapsed).count(), 1.0);
  fs::remove_all(dir);
}

// Everything a view of the extraction shows, in one string.
std::string every_rendering(const Result& result) {
  std::string all = result.error + render_txt(result.extraction.tree) +
                    render_json(result.extraction.tree) + result.extraction.header;
  for (const auto& [name, text] : result.extraction.extra_files) all += text;
  return all;
}

// A value whose header claims more bytes than the file holds shows the bytes the file has and
// an error; never what was in memory (regressions/dicom/truncation: the 3600-byte value of the
// files read before landed in the truncated one).
TEST(DicomExtractor, TruncatedValueShowsOnlyTheBytesOfTheFile) {
  fs::path dir = corpus_dir() / "regressions/dicom/truncation";
  for (const char* name : {"a00_secret.dcm", "a01_secret.dcm"}) {
    Result secret = extract(dir / name);
    EXPECT_EQ(secret.error, "");
    EXPECT_NE(values_by_path(secret.extraction.tree)["ImageComments"].find("TOPSECRET"),
              std::string::npos);
  }
  for (int round = 0; round < 3; ++round) {
    Result result = extract(dir / "truncated_value_in_sequence.dcm");
    auto values = values_by_path(result.extraction.tree);
    EXPECT_EQ(values["ReferencedStudySequence/0/ImageComments"], "visible");
    EXPECT_EQ(values["PatientID"], "TEST001");
    EXPECT_EQ(result.error,
              "DICOM parse error: ImageComments (0020,4000) is truncated: 7 of 3600 bytes are in "
              "the file");
    EXPECT_NE(result.extraction.header.find("(0020,4000) LT [visible]"), std::string::npos);
    std::string all = every_rendering(result);
    EXPECT_EQ(all.find("SECRET"), std::string::npos) << all;
    EXPECT_EQ(all.find('\0'), std::string::npos);
  }
}

TEST(DicomExtractor, TruncatedValuesOfEveryKind) {
  test::TempDir tmp;
  const std::string five_thousand(5000, 'x');
  struct Case {
    const char* name;
    std::string bytes;
    const char* path;
    std::string value;
    const char* error;
  };
  std::vector<Case> cases = {
      // Over 4 KiB: DCMTK defers it and reads it only when it is shown.
      {"deferred_text",
       test::DicomBuilder().long_value(0x0020, 0x4000, "UT", five_thousand, 9000).bytes(),
       "ImageComments", five_thousand,
       "ImageComments (0020,4000) is truncated: 5000 of 9000 bytes are in the file"},
      // Numbers: whole values only.
      {"numbers",
       test::DicomBuilder()
           .short_claim(0x0028, 0x0010, "US", std::string("\x01\x00\x02", 3), 6)
           .bytes(),
       "Rows", "1", "Rows (0028,0010) is truncated: 3 of 6 bytes are in the file"},
      {"binary",
       test::DicomBuilder()
           .long_value(0x0009, 0x1001, "OB", std::string("\x01\x02\x03\x04\x05", 5), 16)
           .bytes(),
       "0009,1001", "01\\02\\03\\04",  // DCMTK's zero pad of an odd length is not shown
       "Unknown Tag & Data (0009,1001) is truncated: 5 of 16 bytes are in the file"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    fs::path path = tmp.path() / (std::string(c.name) + ".dcm");
    std::ofstream(path, std::ios::binary) << c.bytes;
    Result result = extract(path);
    EXPECT_EQ(result.error, std::string("DICOM parse error: ") + c.error);
    EXPECT_EQ(values_by_path(result.extraction.tree)[c.path], c.value);
    EXPECT_EQ(every_rendering(result).find('\0'), std::string::npos);
  }
}

// The reader uses the descriptor it is given: at its own offsets (the descriptor's offset is
// left alone), and values it loads later still come from the file after the caller closed it.
TEST(DicomExtractor, ReadsThroughTheDescriptor) {
  test::TempDir tmp;
  fs::path path = tmp.path() / "deferred.dcm";
  std::string long_text(6000, 'L');
  test::DicomBuilder file;
  file.text(0x0010, 0x0010, "PN", "Through^Descriptor");
  file.long_value(0x0020, 0x4000, "UT", long_text);
  std::ofstream(path, std::ios::binary) << file.bytes();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::lseek(fd, 1000, SEEK_SET), 1000);
  dicom::DicomHeaders headers;
  dicom::read_headers(fd, headers);
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 1000);
  ::close(fd);
  fs::remove(path);  // and no name to find it by
  EXPECT_EQ(headers.error, "");
  OFString value;
  ASSERT_TRUE(headers.file.getDataset()->findAndGetOFString(DCM_PatientName, value).good());
  EXPECT_EQ(std::string(value.c_str()), "Through^Descriptor");
  ASSERT_TRUE(headers.file.getDataset()->findAndGetOFString(DCM_ImageComments, value).good());
  EXPECT_EQ(std::string(value.c_str()), long_text);
}

TEST(DicomExtractor, SafeFromSeveralThreads) {
  std::vector<fs::path> files = corpus_files("dicom");
  std::vector<std::string> sequential;
  for (const auto& file : files) sequential.push_back(render_txt(extract(file).extraction.tree));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < files.size(); ++i) {
          if (render_txt(extract(files[i]).extraction.tree) != sequential[i]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

}  // namespace
}  // namespace metafs::extract

namespace metafs::extract {
namespace {

// What metafs-extract prints is what the extractor produced (the mount shows the same files).
TEST(DicomExtractor, ThroughMetafsExtract) {
  fs::path binary = test::binary("metafs-extract");
  if (!fs::exists(binary)) {
    GTEST_SKIP() << "SKIPPED LOUDLY: " << binary << " is not built (ninja metafs-extract)";
  }
  for (const char* name :
       {"dicom/chrGB2312.dcm", "dicom/fo-dicom_mr.dcm", "dicom/fo-dicom_dicomdir/DICOMDIR"}) {
    SCOPED_TRACE(name);
    fs::path path = corpus_dir() / name;
    Result result = extract(path);
    std::string quoted = shell_quote(binary.string()) + " " + shell_quote(path.string());
    int status = -1;
    EXPECT_EQ(run_command(quoted + " --as format", &status), "dicom\n");
    EXPECT_EQ(status, 0);
    EXPECT_EQ(run_command(quoted + " --as txt"), render_txt(result.extraction.tree));
    EXPECT_EQ(run_command(quoted + " --as json"), render_json(result.extraction.tree));
    EXPECT_EQ(run_command(quoted + " --as header"), result.extraction.header);
    EXPECT_EQ(run_command(quoted + " --as dicom.json"), result.extraction.extra_files[0].second);
  }
  int status = -1;
  run_command(shell_quote(binary.string()) + " " +
                  shell_quote((corpus_dir() / "malformed/GH626.dcm").string()) + " 2>&1",
              &status);
  EXPECT_EQ(status, 1) << "a broken file makes metafs-extract report an error";
}

}  // namespace
}  // namespace metafs::extract

namespace metafs::extract {
namespace {

// Japanese ISO 2022 sets (JIS X 0208, JIS X 0212, JIS X 0201 katakana), which Debian's DCMTK
// refuses, decode as pydicom decodes them (regressions/dicom: raw escape sequences were shown).
TEST(DicomExtractor, JapaneseIso2022LikePydicom) {
  fs::path file = corpus_dir() / "regressions/dicom/charset_iso2022_ir159_ir87.dcm";
  auto values = values_by_path(extract(file).extraction.tree);
  std::size_t compared = 0;
  for (const auto& row : oracle("pydicom", file)) {
    auto it = values.find(row["path"]);
    ASSERT_NE(it, values.end()) << row["path"];
    EXPECT_EQ(it->second, std::string(row["value"])) << row["path"];
    ++compared;
  }
  EXPECT_GE(compared, 2u);
  EXPECT_EQ(values["PatientName"], "Mori^Ogai=森^鷗外=もり^おうがい");
}

// The examples of PS3.5 Annex H, decoded by our ISO 2022 decoder.
TEST(DicomText, JapaneseExamplesOfPs35AnnexH) {
  using dicom::TextDecoder;
  const std::string pn = "\\^=";
  // H.3.1: JIS X 0208 with ASCII.
  TextDecoder ir87("\\ISO 2022 IR 87");
  EXPECT_EQ(ir87.decode("Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^"
                        "\x1b$B$?$m$&\x1b(B",
                        pn),
            "Yamada^Tarou=山田^太郎=やまだ^たろう");
  // H.3.2: JIS X 0201 katakana (G1) and romaji (G0) with JIS X 0208.
  TextDecoder ir13("ISO 2022 IR 13\\ISO 2022 IR 87");
  EXPECT_EQ(ir13.decode("\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J=\x1b$B$d"
                        "$^$@\x1b(J^\x1b$B$?$m$&\x1b(J",
                        pn),
            "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう");
  // JIS X 0212 straight after JIS X 0208, without a return to ASCII in between.
  TextDecoder ir159("ISO 2022 IR 6\\ISO 2022 IR 87\\ISO 2022 IR 159");
  EXPECT_EQ(ir159.decode("\x1b$B?9\x1b$(Dl?\x1b$B30\x1b(B", pn), "森鷗外");
  // One character no set holds (JIS X 0208 row 9 is empty) and an unknown escape sequence
  // come out as bytes; everything around them still decodes.
  EXPECT_EQ(ir87.decode("A\x1b$B;3)!ED\x1b(B^\x1b%ZB", pn), "A山\\x29\\x21田^\\x1B%ZB");
  // A two-byte set named first (not allowed, but written) starts in ASCII, as in pydicom.
  TextDecoder first87("ISO 2022 IR 87");
  EXPECT_EQ(first87.decode("Yamada=\x1b$B;3ED\x1b(B", pn), "Yamada=山田");
  // Text VRs: the lines of an LT each start in ASCII.
  EXPECT_EQ(ir87.decode("\x1b$B;3\r\nED", ""), "山\r\nED");
}

// pydicom's DICOM JSON of `path` (binary values over 16 bytes as an empty BulkDataURI: ours
// omits them; values pydicom cannot convert dropped). JSON has no NaN: pydicom writes one
// anyway, here it becomes the string "<non-finite>".
nlohmann::json pydicom_json(const fs::path& path) {
  std::string text = run_command(
      "/usr/bin/python3 -W ignore -c " +
      shell_quote(
          "import sys,json,math,base64,pydicom\n"
          "ds=pydicom.dcmread(sys.argv[1])\n"
          "d=ds.to_json_dict(bulk_data_threshold=1<<30,suppress_invalid_tags=True)\n"
          "def fix(x):\n"
          "  if isinstance(x,dict) and len(base64.b64decode(x.get('InlineBinary','')))>16:\n"
          "    return {'vr':x['vr'],'BulkDataURI':''}\n"
          "  if isinstance(x,float) and not math.isfinite(x): return '<non-finite>'\n"
          "  if isinstance(x,dict): return {k:fix(v) for k,v in x.items()}\n"
          "  if isinstance(x,list): return [fix(v) for v in x]\n"
          "  return x\n"
          "print(json.dumps(fix(d)))\n") +
      " " + shell_quote(path.string()));
  return nlohmann::json::parse(text);
}

// Element by element: vr, Value (numbers compared as numbers, 64-bit integers exactly) and
// InlineBinary. Documented differences: bulk data is omitted, a non-finite DS stays a string.
std::size_t compare_dicom_json(const nlohmann::json& ours, const nlohmann::json& theirs,
                               const std::string& where) {
  std::size_t compared = 0;
  for (const auto& [key, attribute] : theirs.items()) {
    SCOPED_TRACE(where + key);
    if (attribute.contains("BulkDataURI")) {
      EXPECT_FALSE(ours.contains(key)) << "bulk data is omitted";
      continue;
    }
    if (!ours.contains(key)) {
      ADD_FAILURE() << "missing";
      continue;
    }
    const auto& mine = ours[key];
    EXPECT_EQ(mine["vr"], attribute["vr"]);
    EXPECT_EQ(mine.value("InlineBinary", ""), attribute.value("InlineBinary", ""));
    EXPECT_EQ(mine.contains("Value"), attribute.contains("Value"));
    ++compared;
    if (!attribute.contains("Value") || !mine.contains("Value")) continue;
    const auto& want = attribute["Value"];
    const auto& got = mine["Value"];
    if (got.size() != want.size()) {
      ADD_FAILURE() << got << " vs " << want;
      continue;
    }
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (attribute["vr"] == "SQ") {
        compared +=
            compare_dicom_json(got[i], want[i], where + key + "/" + std::to_string(i) + "/");
      } else if (want[i] == "<non-finite>") {
        EXPECT_TRUE(got[i].is_string()) << i;
      } else {
        EXPECT_EQ(got[i], want[i]) << i;
        EXPECT_EQ(got[i].type(), want[i].type()) << i << ": " << got[i] << " vs " << want[i];
      }
    }
  }
  return compared;
}

// DICOM JSON (PS3.18 F.2) as pydicom writes it: InlineBinary for OF/OL/OD/OW/OV (little
// endian), exact 64-bit integers, DICOMDIR offsets as UL numbers, IS "+01" as 1 (issue 15 item 4).
TEST(DicomExtractor, DicomJsonMatchesPydicomOnBinaryAndNumberVrs) {
  fs::path regressions = corpus_dir() / "regressions/dicom";
  for (const fs::path& path :
       {regressions / "vr_sv_uv_ov_extremes.dcm", regressions / "small_binary_vrs.dcm",
        regressions / "extended_offset_table.dcm", regressions / "ds_is_unusual_text.dcm",
        corpus_dir() / "dicom/fo-dicom_dicomdir/DICOMDIR"}) {
    SCOPED_TRACE(path.string());
    Result result = extract(path);
    ASSERT_EQ(result.extraction.extra_files.size(), 1u);
    auto ours = nlohmann::json::parse(result.extraction.extra_files[0].second);
    EXPECT_GE(compare_dicom_json(ours, pydicom_json(path), ""), 5u);
  }
  auto ours = nlohmann::json::parse(
      extract(regressions / "vr_sv_uv_ov_extremes.dcm").extraction.extra_files[0].second);
  EXPECT_EQ(ours["00720083"]["Value"][0].get<std::uint64_t>(), 18446744073709551615u);
  EXPECT_EQ(ours["00720082"]["Value"][0].get<std::int64_t>(), INT64_MIN);
  auto dicomdir = nlohmann::json::parse(
      render_json(extract(corpus_dir() / "dicom/fo-dicom_dicomdir/DICOMDIR").extraction.tree));
  EXPECT_EQ(dicomdir["OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity"], 404)
      << "a DICOMDIR offset is a UL number in metadata.json too";
  std::string text =
      extract(regressions / "ds_is_unusual_text.dcm").extraction.extra_files[0].second;
  ours = nlohmann::json::parse(text);
  EXPECT_EQ(ours["00200013"]["Value"][0].dump(), "1") << "IS +01";
  EXPECT_EQ(ours["00200012"]["Value"][0].dump(), "2") << "IS 2.0";
  EXPECT_EQ(ours["00281050"]["Value"][0], "40@") << "not a number: kept as text";
  EXPECT_EQ(ours["00281051"]["Value"][0], "NaN") << "JSON has no NaN";
}

// InlineBinary holds the value in little-endian order whatever the file's byte order
// (PS3.18 F.2.7): an explicit VR big endian dataset with an OF and an OW value.
TEST(DicomExtractor, DicomJsonInlineBinaryIsLittleEndian) {
  std::string bytes = test::DicomBuilder().bytes();
  std::size_t ts = bytes.find("1.2.840.10008.1.2.1");
  ASSERT_NE(ts, std::string::npos);
  bytes[ts + 18] = '2';  // Explicit VR Big Endian
  auto element = [&](std::uint16_t group, std::uint16_t number, const char* vr,
                     const std::string& value) {
    for (std::uint16_t v : {group, number}) bytes += {char(v >> 8), char(v & 0xFF)};
    bytes += vr;
    bytes += std::string(2, '\0');
    auto size = static_cast<std::uint32_t>(value.size());
    bytes += {char(size >> 24), char(size >> 16), char(size >> 8), char(size)};
    bytes += value;
  };
  element(0x0066, 0x0016, "OF", std::string("\x3F\xC0\x00\x00\xC0\x10\x00\x00", 8));
  element(0x0066, 0x0023, "OW", std::string("\x00\x0A\x00\x14\x00\x1E", 6));
  test::TempDir tmp;
  fs::path path = tmp.path() / "big_endian.dcm";
  std::ofstream(path, std::ios::binary) << bytes;
  Result result = extract(path);
  ASSERT_EQ(result.error, "");
  EXPECT_EQ(values_by_path(result.extraction.tree)["PointCoordinatesData"], "1.5\\-2.25");
  auto json = nlohmann::json::parse(result.extraction.extra_files.at(0).second);
  EXPECT_EQ(json["00660016"]["InlineBinary"], "AADAPwAAEMA=");  // 1.5, -2.25 little endian
  EXPECT_EQ(json["00660023"]["InlineBinary"], "CgAUAB4A");      // 10, 20, 30 little endian
}

// DS/IS in metadata.json: text that is a number becomes that JSON number ("+5" -> 5,
// ".5" -> 0.5, "+01" -> 1), with pydicom's values; other text stays a string (issue 15 item 5).
TEST(DicomExtractor, DsIsUnusualTextInMetadataJson) {
  fs::path path = corpus_dir() / "regressions/dicom/ds_is_unusual_text.dcm";
  Result result = extract(path);
  auto ours = nlohmann::json::parse(render_json(result.extraction.tree));
  auto theirs = pydicom_json(path);
  auto spatial = ours["SpatialResolution"];
  ASSERT_TRUE(spatial.is_array());
  ASSERT_EQ(spatial.size(), theirs["00181050"]["Value"].size());
  for (std::size_t i = 0; i < spatial.size(); ++i) {
    EXPECT_TRUE(spatial[i].is_number()) << spatial[i];
    EXPECT_EQ(spatial[i].get<double>(), theirs["00181050"]["Value"][i].get<double>()) << i;
  }
  EXPECT_EQ(ours["InstanceNumber"], 1);
  EXPECT_EQ(ours["InstanceNumber"], theirs["00200013"]["Value"][0]);
  EXPECT_TRUE(ours["AcquisitionNumber"].is_number());
  EXPECT_EQ(ours["AcquisitionNumber"].get<double>(), theirs["00200012"]["Value"][0].get<double>());
  EXPECT_EQ(ours["WindowCenter"], "40@");
  EXPECT_EQ(ours["WindowWidth"], "NaN");
  // fields/ and metadata.txt keep the text as stored.
  EXPECT_EQ(values_by_path(result.extraction.tree)["SpatialResolution"], "+5\\.5\\1e3\\-0\\12");
  EXPECT_EQ(values_by_path(result.extraction.tree)["InstanceNumber"], "+01");
}

}  // namespace
}  // namespace metafs::extract

namespace metafs::extract {
namespace {

std::string le32(std::int32_t v) {
  auto u = static_cast<std::uint32_t>(v);
  std::string bytes;
  for (int i = 0; i < 4; ++i) bytes += static_cast<char>((u >> (8 * i)) & 0xFF);
  return bytes;
}

// An implicit VR element (tag, 4-byte length, value) and an item of defined length around
// such elements, to place inside a sequence's value.
std::string implicit_element(std::uint16_t group, std::uint16_t element, const std::string& v) {
  std::string bytes;
  for (std::uint16_t x : {group, element}) {
    bytes += static_cast<char>(x & 0xFF);
    bytes += static_cast<char>(x >> 8);
  }
  return bytes + le32(static_cast<std::int32_t>(v.size())) + v;
}
std::string implicit_item(const std::string& elements) {
  return implicit_element(0xFFFE, 0xE000, elements);
}

// What pydicom reads for one element: its VR and value, as "VR value".
std::string pydicom_element(const fs::path& path, const std::string& tag_path) {
  return run_command("/usr/bin/python3 -c " +
                     shell_quote("import sys,pydicom\n"
                                 "ds=pydicom.dcmread(sys.argv[1])\n"
                                 "e=eval('ds'+sys.argv[2])\n"
                                 "print(e.VR, list(e.value) if e.VM>1 else e.value)") +
                     " " + shell_quote(path.string()) + " " + shell_quote(tag_path));
}

// Private elements with creators DCMTK's private.dic lacks (SIEMENS MR HEADER, BRIT Systems)
// decode with the VR of pydicom's private dictionary, generated at build time: implicit VR
// values as numbers and text, private sequences stored implicit or as UN as sequences. Through
// the extractor, the JSON views, pydicom, and a real mount (workers, sandboxed).
TEST(DicomExtractor, PrivateElementsDecodeWithPydicomsPrivateDictionary) {
  test::TempDir dir;
  const std::string table_position = le32(0) + le32(0) + le32(-1252);
  const std::string person = implicit_item(implicit_element(0x0010, 0x0010, "Doe^J "));

  test::DicomBuilder implicit(true);
  implicit.implicit(0x0008, 0x0060, "MR")
      .implicit(0x0019, 0x0010, "SIEMENS MR HEADER ")
      .implicit(0x0019, 0x1012, table_position)  // SL, VM 3
      .implicit(0x0021, 0x0010, "BRIT Systems, Inc.")
      .implicit(0x0021, 0x1000, person);  // SQ of defined length
  fs::path implicit_path = dir.path() / "implicit.dcm";
  test::write_file(implicit_path, implicit.bytes());

  test::DicomBuilder explicit_vr;
  explicit_vr.text(0x0008, 0x0060, "CS", "MR")
      .text(0x0019, 0x0010, "LO", "SIEMENS MR HEADER")
      .long_value(0x0019, 0x1012, "UN", table_position)
      .text(0x0021, 0x0010, "LO", "BRIT Systems, Inc.")
      .long_value(0x0021, 0x1000, "UN", person);  // a sequence stored as UN
  fs::path un_path = dir.path() / "un.dcm";
  test::write_file(un_path, explicit_vr.bytes());

  for (const fs::path& path : {implicit_path, un_path}) {
    SCOPED_TRACE(path.filename().string());
    Result result = extract(path);
    EXPECT_EQ(result.error, "");
    auto values = values_by_path(result.extraction.tree);
    EXPECT_EQ(values["0019,1012"], "0\\0\\-1252");
    EXPECT_EQ(values["0021,1000/0/PatientName"], "Doe^J");
    auto json = nlohmann::json::parse(render_json(result.extraction.tree));
    EXPECT_EQ(json["0019,1012"], nlohmann::json({0, 0, -1252}));
    auto dicom_json = nlohmann::json::parse(result.extraction.extra_files[0].second);
    EXPECT_EQ(dicom_json["00191012"]["vr"], "SL");
    EXPECT_EQ(dicom_json["00191012"]["Value"], nlohmann::json({0, 0, -1252}));
    EXPECT_EQ(dicom_json["00211000"]["vr"], "SQ");
    EXPECT_EQ(dicom_json["00211000"]["Value"][0]["00100010"]["Value"][0]["Alphabetic"], "Doe^J");
    // The same as pydicom reads.
    EXPECT_EQ(pydicom_element(path, "[0x00191012]"), "SL [0, 0, -1252]\n");
    EXPECT_EQ(pydicom_element(path, "[0x00211000][0][0x00100010]"), "PN Doe^J\n");
  }

  // Through the mount: workers add the dictionary before their sandbox closes.
  test::MountRunner mount(dir.path());
  ASSERT_TRUE(mount.mounted());
  for (const char* name : {"implicit.dcm", "un.dcm"}) {
    fs::path fields = mount.mountpoint() / name / "fields";
    EXPECT_EQ(test::read_file(fields / "0019,1012"), "0\\0\\-1252\n") << name;
    EXPECT_EQ(test::read_file(fields / "0021,1000" / "0" / "PatientName"), "Doe^J\n") << name;
  }
}

// Adding the private dictionary (about 8,000 entries) is paid once per process, when the
// extractor is made (a worker's warm-up): measured here next to DCMTK's own dictionary load
// (ctest runs each test in a process of its own, so both are first loads there).
TEST(DicomExtractor, PrivateDictionaryCostsLittleOncePerProcess) {
  auto seconds_of = [](auto&& step) {
    auto start = std::chrono::steady_clock::now();
    step();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double dcmtk = seconds_of([] {
    dcmDataDict.rdlock();
    dcmDataDict.rdunlock();
  });
  double first = seconds_of([] { (void)make_dicom_extractor(); });
  double second = seconds_of([] { (void)make_dicom_extractor(); });
  std::cout << "[ warm-up ] DCMTK's dictionaries " << dcmtk * 1e3 << " ms, private dictionary "
            << first * 1e3 << " ms, a second extractor " << second * 1e3 << " ms\n";
  EXPECT_LT(first, 0.5);
  EXPECT_LT(second, 0.005) << "added once per process";
  auto vr_of = [](std::uint16_t group, std::uint16_t element, const char* creator) {
    const DcmDataDictionary& dictionary = dcmDataDict.rdlock();
    const DcmDictEntry* entry = dictionary.findEntry(DcmTagKey(group, element), creator);
    DcmEVR vr = entry != nullptr ? entry->getEVR() : EVR_UNKNOWN;
    dcmDataDict.rdunlock();
    return vr;
  };
  EXPECT_EQ(vr_of(0x0019, 0x1012, "SIEMENS MR HEADER"), EVR_SL);  // not in DCMTK's
  // In both, with different VRs (DCMTK's private.dic: DS): pydicom's entry is used.
  EXPECT_EQ(vr_of(0x0029, 0x1002, "CARDIO-D.R. 1.0"), EVR_US);
}

// A process that goes on from file to file (a worker, metafs-extract -r) keeps glibc's iconv
// modules of the DICOM character sets loaded: each converter used to load its module for one
// file and unload it when it closed (half of a non-ASCII file's extraction). ctest runs each
// test in a process of its own, so no other test loaded them first.
TEST(DicomExtractor, IconvModulesStayLoadedFromFileToFile) {
  auto loaded = [] {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    int modules = 0;
    while (std::getline(maps, line)) {
      if (line.find("/gconv/") != std::string::npos && line.find(" r-xp ") != std::string::npos) {
        ++modules;
      }
    }
    return modules;
  };
  auto extractor = make_dicom_extractor();
  // pydicom's character set files (ISO 8859 parts, ISO 2022 Japanese and Korean, Arabic,
  // Hebrew, Greek, Russian, GB18030), one after the other, twice: once a module has been
  // loaded for a file it stays for the next ones.
  fs::path dir = "/usr/lib/python3/dist-packages/pydicom/data/charset_files";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".dcm") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 10u);
  std::vector<int> after;
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& file : files) {
      Extraction out;
      extractor->extract(open_source_file(file), out);
      after.push_back(loaded());
    }
  }
  // Never fewer modules than after the first pass: none was unloaded to be loaded again.
  int first_pass = after[files.size() - 1];
  EXPECT_GT(first_pass, 0);
  for (std::size_t i = files.size(); i < after.size(); ++i) {
    EXPECT_GE(after[i], first_pass) << files[i - files.size()].filename();
  }
}

// Odd-length values (not allowed, but found in files) show the bytes of the file, without the
// zero DCMTK pads them with; text of odd length has no pad character either.
TEST(DicomExtractor, OddLengthValuesShowOnlyTheirBytes) {
  test::TempDir dir;
  fs::path path = dir.path() / "odd.dcm";
  test::DicomBuilder builder;
  builder.short_claim(0x0010, 0x0010, "PN", "Doe", 3)
      .text(0x0019, 0x0010, "LO", "ODD TEST")
      .long_value(0x0019, 0x1001, "OB", std::string("\x01\x02\x03", 3))
      .long_value(0x0019, 0x1002, "UN", std::string(17, '\x05'))
      .long_value(0x0020, 0x4000, "UT", "xyz");
  test::write_file(path, builder.bytes());
  Result result = extract(path);
  EXPECT_EQ(result.error, "");
  auto values = values_by_path(result.extraction.tree);
  EXPECT_EQ(values["PatientName"], "Doe");
  EXPECT_EQ(values["0019,1001"], "01\\02\\03");
  EXPECT_EQ(values["0019,1002"], "<binary, 17 bytes>");
  EXPECT_EQ(values["ImageComments"], "xyz");
  auto dicom_json = nlohmann::json::parse(result.extraction.extra_files[0].second);
  EXPECT_EQ(dicom_json["00191001"]["InlineBinary"], "AQID");  // base64 of 01 02 03
  const std::string& header = result.extraction.header;
  EXPECT_NE(header.find("(0019,1001) OB 01\\02\\03 "), std::string::npos) << header;
  EXPECT_NE(header.find("#   3, 1 "), std::string::npos) << header;
  EXPECT_EQ(pydicom_element(path, "[0x00191001]"), "OB b'\\x01\\x02\\x03'\n");
}

// FL and OF are written as the shortest text that reads back to the same float32 (0.1), in
// every view; pydicom prints the float64 it widens them to (0.10000000149011612), the same
// float32 value.
TEST(DicomExtractor, Float32ValuesAreTheShortestTextOfTheirValue) {
  test::TempDir dir;
  fs::path path = dir.path() / "float32.dcm";
  float tenth = 0.1F;
  std::string bytes(reinterpret_cast<const char*>(&tenth), 4);
  test::DicomBuilder builder;
  builder
      .text(0x0018, 0x9322, "FL", bytes)                 // ReconstructionPixelSpacing
      .long_value(0x0064, 0x0009, "OF", bytes + bytes);  // VectorGridData
  test::write_file(path, builder.bytes());
  Result result = extract(path);
  auto values = values_by_path(result.extraction.tree);
  EXPECT_EQ(values["ReconstructionPixelSpacing"], "0.1");
  EXPECT_EQ(values["VectorGridData"], "0.1\\0.1");
  auto json = nlohmann::json::parse(render_json(result.extraction.tree));
  EXPECT_EQ(json["ReconstructionPixelSpacing"].get<float>(), tenth);
  EXPECT_EQ(json["VectorGridData"][1].get<float>(), tenth);
  auto dicom_json = nlohmann::json::parse(result.extraction.extra_files[0].second);
  EXPECT_EQ(dicom_json["00189322"]["Value"][0].get<float>(), tenth);
  std::string theirs = pydicom_element(path, "[0x00189322]");
  EXPECT_EQ(theirs, "FL 0.10000000149011612\n");
  EXPECT_EQ(static_cast<float>(std::stod(theirs.substr(3))), tenth) << "the same float32";
}

// A meta header naming a compressed transfer syntax (JPEG Baseline: explicit VR) over an
// implicit VR dataset (pydicom's SC_rgb_jpeg.dcm has this defect) is read as the dataset is,
// and `error` says the header was wrong, as for uncompressed syntaxes.
TEST(DicomExtractor, ACompressedTransferSyntaxThatLiesIsReadAsTheDatasetIs) {
  test::TempDir dir;
  fs::path path = dir.path() / "jpeg_liar.dcm";
  test::DicomBuilder builder(true, "1.2.840.10008.1.2.4.50");
  builder.implicit(0x0008, 0x0008, "DERIVED\\SECONDARY ")
      .implicit(0x0008, 0x0060, "OT")
      .implicit(0x0010, 0x0010, "Doe^Jane")
      .implicit(0x0028, 0x0010, std::string("\x04\x00", 2))
      .implicit(0x7FE0, 0x0010, std::string(8, '\0'));
  test::write_file(path, builder.bytes());
  Result result = extract(path);
  auto values = values_by_path(result.extraction.tree);
  EXPECT_EQ(values["ImageType"], "DERIVED\\SECONDARY");
  EXPECT_EQ(values["Modality"], "OT");
  EXPECT_EQ(values["PatientName"], "Doe^Jane");
  EXPECT_EQ(values["Rows"], "4");
  EXPECT_EQ(values["PixelData"], "<binary, 8 bytes>");
  EXPECT_NE(result.error.find("the file meta header says JPEG Baseline"), std::string::npos)
      << result.error;
  EXPECT_NE(result.error.find("but the dataset is Little Endian Implicit"), std::string::npos)
      << result.error;
  EXPECT_EQ(pydicom_element(path, "[0x00100010]"), "PN Doe^Jane\n");
}

}  // namespace
}  // namespace metafs::extract
