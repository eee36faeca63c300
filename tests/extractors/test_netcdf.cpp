// The netCDF extractor against its oracles: ncdump -h (header.txt, byte for byte) and
// netCDF4-python (every attribute value in metadata.txt), over the shared corpus and
// edge-case files the oracle script generates.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "corpus.hpp"
#include "meta_tree.hpp"
#include "mount_runner.hpp"
#include "netcdf/netcdf_extractor.hpp"
#include "render.hpp"
#include "temp_dir.hpp"

namespace metafs::extract {
namespace {

namespace fs = std::filesystem;
using test::corpus_files;
using test::run_command;
using test::shell_quote;
using test::TempDir;

const fs::path kOracle = fs::path(METAFS_ORACLE_DIR) / "netcdf_oracle.py";

Extraction extract(const fs::path& path) {
  static const auto extractor = make_netcdf_extractor();
  Extraction out;
  out.format = Format::kNetcdf;
  try {
    extractor->extract(open_source_file(path), out);
  } catch (const ExtractError& e) {
    out.error = e.what();
  }
  return out;
}

std::string ncdump_header(const fs::path& path) {
  int status = -1;
  std::string text = run_command("ncdump -h " + shell_quote(path.string()), &status);
  EXPECT_EQ(status, 0) << "ncdump -h failed on " << path;
  return text;
}

// Edge-case files written by the oracle script (netCDF4-python and ncgen).
std::vector<fs::path> generated_files(const fs::path& dir) {
  int status = -1;
  std::string list = run_command("/usr/bin/python3 " + shell_quote(kOracle.string()) +
                                     " generate " + shell_quote(dir.string()),
                                 &status);
  EXPECT_EQ(status, 0) << "the oracle could not generate its files";
  std::vector<fs::path> files;
  std::istringstream lines(list);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) files.emplace_back(line);
  EXPECT_GE(files.size(), 6u);
  return files;
}

std::size_t expect_headers_match(const std::vector<fs::path>& files) {
  std::size_t identical = 0;
  for (const auto& file : files) {
    Extraction got = extract(file);
    EXPECT_EQ(got.error, "") << file;
    std::string expected = ncdump_header(file);
    EXPECT_EQ(got.header, expected) << "header.txt differs from ncdump -h for " << file;
    if (got.header == expected) ++identical;
  }
  return identical;
}

TEST(NetcdfHeader, IdenticalToNcdumpForEveryCorpusFile) {
  auto files = corpus_files("netcdf");
  ASSERT_GE(files.size(), 17u);
  std::size_t identical = expect_headers_match(files);
  std::cout << "[ netcdf ] header.txt identical to ncdump -h: " << identical << "/" << files.size()
            << "\n";
  EXPECT_EQ(identical, files.size());
}

TEST(NetcdfHeader, IdenticalToNcdumpForGeneratedEdgeCases) {
  TempDir dir;
  auto files = generated_files(dir.path());
  EXPECT_EQ(expect_headers_match(files), files.size());
}

// metadata.txt as a map from path to (escaped) value.
std::map<std::string, std::string> txt_lines(const MetaTree& tree) {
  std::map<std::string, std::string> lines;
  std::istringstream in(render_txt(tree));
  for (std::string line; std::getline(in, line);) {
    auto tab = line.find('\t');
    if (tab != std::string::npos) lines[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return lines;
}

// Our bytes with each byte of invalid UTF-8 as U+FFFD, as Python decodes with 'replace'.
std::string replace_invalid_utf8(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool valid = n > 0 && i + n <= s.size();
    for (std::size_t k = 1; valid && k < n; ++k)
      valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (valid) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

std::vector<std::string> split(const std::string& s, const std::string& separator) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t at; (at = s.find(separator, start)) != std::string::npos;
       start = at + separator.size())
    parts.push_back(s.substr(start, at - start));
  parts.push_back(s.substr(start));
  return parts;
}

bool same_number(const std::string& ours, const nlohmann::json& theirs, const std::string& dtype) {
  if (theirs.is_string()) return ours == theirs.get<std::string>();  // NaN, Infinity, -Infinity
  char* end = nullptr;
  if (dtype == "float32") {
    float a = std::strtof(ours.c_str(), &end);
    return *end == '\0' && a == static_cast<float>(theirs.get<double>());
  }
  if (dtype == "float64") {
    double a = std::strtod(ours.c_str(), &end);
    return *end == '\0' && a == theirs.get<double>();
  }
  if (dtype.starts_with("uint")) {
    unsigned long long a = std::strtoull(ours.c_str(), &end, 10);
    return *end == '\0' && a == theirs.get<unsigned long long>();
  }
  long long a = std::strtoll(ours.c_str(), &end, 10);
  return *end == '\0' && a == theirs.get<long long>();
}

// Compares every attribute the oracle reads with the file's metadata.txt; returns how many.
std::size_t expect_attributes_match(const std::vector<fs::path>& files) {
  std::string command = "/usr/bin/python3 " + shell_quote(kOracle.string()) + " attributes";
  for (const auto& file : files) command += " " + shell_quote(file.string());
  int status = -1;
  std::string oracle = run_command(command, &status);
  EXPECT_EQ(status, 0) << "the oracle failed";
  std::map<std::string, std::map<std::string, std::string>> ours;
  for (const auto& file : files) ours[file.string()] = txt_lines(extract(file).tree);
  std::size_t compared = 0;
  std::istringstream lines(oracle);
  for (std::string line; std::getline(lines, line);) {
    auto item = nlohmann::json::parse(line);
    const auto& txt = ours[item["file"].get<std::string>()];
    std::string path;
    for (const auto& segment : item["path"]) {
      if (!path.empty()) path += '/';
      path += escape_name(segment.get<std::string>());
    }
    auto found = txt.find(path);
    if (found == txt.end()) {
      ADD_FAILURE() << item["file"] << ": no " << path << " in metadata.txt";
      continue;
    }
    std::string kind = item["kind"];
    std::string value = replace_invalid_utf8(found->second);
    if (kind == "numbers") {
      auto got = split(value, ", ");
      const auto& want = item["values"];
      bool same = got.size() == want.size();
      for (std::size_t i = 0; same && i < got.size(); ++i) {
        // An enum value shows as its member's name (escaped as every value in metadata.txt).
        if (item.contains("enum_members")) {
          for (const auto& [member, number] : item["enum_members"].items()) {
            std::string escaped;
            append_escaped_value(escaped, member);
            if (got[i] == escaped) got[i] = number.dump();
          }
        }
        same = same_number(got[i], want[i], item["dtype"]);
      }
      EXPECT_TRUE(same) << item["file"] << " " << path << ": ours " << value << ", netCDF4 "
                        << want.dump();
    } else {
      std::string joined;
      for (const auto& v : item["values"]) {
        if (&v != &item["values"].front()) joined += '\n';
        joined += v.get<std::string>();
      }
      std::string expected;
      append_escaped_value(expected, joined);
      EXPECT_EQ(value, expected) << item["file"] << " " << path;
    }
    ++compared;
  }
  return compared;
}

TEST(NetcdfFields, EveryAttributeNetcdf4PythonReadsIsInMetadataTxt) {
  auto files = corpus_files("netcdf");
  std::size_t compared = expect_attributes_match(files);
  std::cout << "[ netcdf ] attributes compared with netCDF4-python: " << compared << "\n";
  EXPECT_GE(compared, 300u);
}

TEST(NetcdfFields, GeneratedEdgeCaseAttributesMatchNetcdf4Python) {
  TempDir dir;
  EXPECT_GE(expect_attributes_match(generated_files(dir.path())), 40u);
}

NodeId at_id(const MetaTree& tree, const std::string& path) {
  NodeId id = MetaTree::kRoot;
  for (const auto& part : split(path, "/")) {
    id = tree.find(id, part);
    if (id == MetaTree::kNotFound) throw std::runtime_error("no " + path);
  }
  return id;
}

const MetaNode& at(const MetaTree& tree, const std::string& path) {
  return tree.node(at_id(tree, path));
}

TEST(NetcdfFields, LayoutOfAClassicFile) {
  Extraction got = extract(test::corpus_dir() / "netcdf" / "CRM032_test1.nc");
  ASSERT_EQ(got.error, "");
  const MetaTree& t = got.tree;
  EXPECT_EQ(at(t, "format_variant").text, "classic");
  EXPECT_EQ(at(t, "dimensions/rgrid").text, "10855");
  EXPECT_EQ(at(t, "dimensions/rgrid").kind, ValueKind::kNumber);
  EXPECT_EQ(at(t, "variables/MSLP/type").text, "float");
  EXPECT_EQ(render_value_file(at(t, "variables/MSLP/dimensions")), "time, rgrid\n");
  EXPECT_EQ(render_value_file(at(t, "variables/MSLP/shape")), "1, 10855\n");
  EXPECT_EQ(at(t, "variables/MSLP/attributes/units").text, "hPa");
  EXPECT_EQ(at(t, "attributes/Conventions").text, "CF1.0");
  auto json = nlohmann::json::parse(render_json(t));
  EXPECT_EQ(json["variables"]["MSLP"]["shape"], nlohmann::json::array({1, 10855}));
  EXPECT_EQ(json["dimensions"]["time"], 1);
  EXPECT_EQ(json["variables"]["longitude"]["attributes"]["units"], "degrees_east");
}

TEST(NetcdfFields, NumbersAreNumbersInJson) {
  Extraction got = extract(test::corpus_dir() / "netcdf" / "20171025_2056.Cloud_Top_Height.nc");
  ASSERT_EQ(got.error, "");
  auto json = nlohmann::json::parse(render_json(got.tree));
  const auto& ht = json["variables"]["HT"]["attributes"];
  EXPECT_EQ(ht["scale_factor"].get<float>(), 0.3052037f);
  EXPECT_EQ(ht["valid_range"], nlohmann::json::array({0, -6}));
  EXPECT_EQ(ht["_FillValue"], -1);
  EXPECT_EQ(ht["units"], "m");
  EXPECT_EQ(at(got.tree, "variables/HT/attributes/scale_factor").text, "0.3052037");
  EXPECT_EQ(render_value_file(at(got.tree, "variables/DQF/attributes/flag_values")),
            "0, 1, 2, 3, 4, 5, 6\n");
}

TEST(NetcdfFields, FormatVariantIsWhatNcdumpKSays) {
  for (const auto& file : corpus_files("netcdf")) {
    Extraction got = extract(file);
    std::string kind = run_command("ncdump -k " + shell_quote(file.string()));
    EXPECT_EQ(at(got.tree, "format_variant").text + "\n", kind) << file;
  }
}

TEST(NetcdfFields, GroupsUnlimitedDimensionsAndTypes) {
  const fs::path dir = test::corpus_dir() / "netcdf";
  Extraction groups = extract(dir / "test_groups1.nc");
  ASSERT_EQ(groups.error, "");
  EXPECT_EQ(at(groups.tree, "dimensions/dim1").text, "5");
  EXPECT_EQ(at(groups.tree, "groups/g/dimensions/dim2").text, "3");
  EXPECT_EQ(render_value_file(at(groups.tree, "groups/g/groups/h/variables/v2/dimensions")),
            "dim2\n");
  EXPECT_EQ(at(groups.tree, "groups/g/groups/i/variables/v3/type").text, "float");

  Extraction records = extract(dir / "ref_nc_test_netcdf4_4_0.nc");
  ASSERT_EQ(records.error, "");
  EXPECT_EQ(at(records.tree, "unlimited_dimensions").text, "Dr");
  EXPECT_EQ(at(records.tree, "dimensions/Dr").text, "2");
  EXPECT_EQ(render_value_file(at(records.tree, "attributes/Gs")), "-32768, 32767, 32767\n");

  Extraction rover = extract(dir / "ref_tst_irish_rover.nc");
  ASSERT_EQ(rover.error, "");
  EXPECT_EQ(at(rover.tree, "types/cargo/class").text, "enum");
  EXPECT_EQ(at(rover.tree, "types/cargo/members/barrels of porter").text, "7000000");
  EXPECT_EQ(at(rover.tree, "variables/in_the_hold_of_the_Irish_Rover/type").text, "cargo");

  Extraction nested = extract(dir / "ref_tst_nvars.nc");
  ASSERT_EQ(nested.error, "");
  EXPECT_EQ(at(nested.tree, "types/cmp2/members/y/type").text, "double");
  EXPECT_EQ(render_value_file(at(nested.tree, "types/cmp2/members/y/shape")), "3, 2\n");
  EXPECT_EQ(at(nested.tree, "groups/phony_group/variables/phony_compound_var/type").text, "cmp5");
}

TEST(NetcdfFields, UserDefinedAttributeValues) {
  TempDir dir;
  generated_files(dir.path());
  Extraction got = extract(dir.path() / "user_types.nc");
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(render_value_file(at(got.tree, "variables/l/attributes/la")), "high, low\n");
  EXPECT_EQ(render_value_file(at(got.tree, "variables/b/attributes/ba")),
            "0X0102ABFF, 0X00000000\n");
  EXPECT_EQ(render_value_file(at(got.tree, "variables/r/attributes/ra")), "{1, 2, 3}, {}, {-7}\n");
  EXPECT_EQ(render_value_file(at(got.tree, "attributes/sa")), "one\ntwo\nlines\ntab\there\n");
  EXPECT_EQ(at(got.tree, "attributes/nul").text, "trailing nul");
}

fs::path regression(const std::string& name) {
  return test::corpus_dir() / "regressions" / "netcdf" / name;
}

// Builds `cdl` with `ncgen -k kind` into dir/name.
fs::path ncgen(const fs::path& dir, const std::string& name, const std::string& cdl,
               const std::string& kind) {
  fs::create_directories(dir);
  fs::path source = dir / (name + ".cdl");
  std::ofstream(source) << cdl;
  fs::path out = dir / name;
  int status = -1;
  std::string said = run_command("ncgen -k " + kind + " -o " + shell_quote(out.string()) + " " +
                                     shell_quote(source.string()) + " 2>&1",
                                 &status);
  EXPECT_EQ(status, 0) << said;
  return out;
}

void expect_like_ncdump(const fs::path& file) {
  Extraction got = extract(file);
  EXPECT_EQ(got.error, "") << file;
  EXPECT_EQ(got.header, ncdump_header(file)) << file;
}

// ncdump writes a space before the ':' of attributes of variables named like the CDL
// keywords of its list (variables, dimensions, data, group, types), and only there.
TEST(NetcdfNames, CdlKeywordsAsVariableNames) {
  fs::path file = regression("cdl_keyword_names.nc");
  expect_like_ncdump(file);
  std::string header = extract(file).header;
  EXPECT_NE(header.find("\tint data(x) ;\n\t\tdata :units = \"m\" ;\n"), std::string::npos)
      << header;
  EXPECT_NE(header.find("\t\tdimensions :units"), std::string::npos) << header;

  TempDir dir;
  std::string cdl =
      "netcdf keywords {\ndimensions:\n\tvariable = 1 ;\nvariables:\n\tint variable(variable) "
      ";\n\t\tvariable:units = \"m\" ;\n\tint types2 ;\n\t\ttypes2:data = 1 ;\n}\n";
  for (std::string kind : {"nc3", "nc6", "nc5", "nc4", "nc7"}) {
    fs::path built = ncgen(dir.path() / kind, "keywords.nc", cdl, kind);
    expect_like_ncdump(built);
    EXPECT_NE(extract(built).header.find("\t\tvariable:units"), std::string::npos);
  }
}

// Control characters are \%xx in every name, whole: ncdump 4.9.0 as Debian ships it does not
// cut the name after the first hex digit (an older snprintf bug).
TEST(NetcdfNames, ControlCharactersInEveryKindOfName) {
  fs::path file = regression("control_chars_in_names.nc");
  expect_like_ncdump(file);
  EXPECT_NE(extract(file).header.find("\t\ta\\%0ab:x\\%09y = 1 ;\n"), std::string::npos);

  TempDir dir;
  generated_files(dir.path());  // includes control_chars.nc (h5py)
  fs::path generated = dir.path() / "control_chars.nc";
  ASSERT_TRUE(fs::exists(generated));
  expect_like_ncdump(generated);
  std::string header = extract(generated).header;
  EXPECT_NE(header.find("byte enum cats\\%02 {one\\%09tab = 0, plain = 2, two\\%0alines = 1} ;"),
            std::string::npos)
      << header;
  EXPECT_NE(header.find("e:which = two\\%0alines, one\\%09tab ;"), std::string::npos) << header;
  EXPECT_NE(header.find("group: grp\\%03 {"), std::string::npos) << header;

  // The dataset's name line comes from the file name, escaped the same way.
  for (std::string name : {"tab\there.nc", "new\nline.x.nc", "del\x7f.nc", "9 lives.nc"}) {
    fs::path copy = dir.path() / name;
    fs::copy_file(file, copy);
    expect_like_ncdump(copy);
  }
  fs::path tab = dir.path() / "tab\there.nc";
  EXPECT_EQ(extract(tab).header.substr(0, 21), "netcdf tab\\%09here {\n");
}

// A variable may use a dimension of a group that is not its ancestor.
TEST(NetcdfDimensions, DimensionOfASiblingGroup) {
  fs::path file = regression("dimension_from_sibling_group.nc");
  expect_like_ncdump(file);
  std::string header = extract(file).header;
  EXPECT_NE(header.find("\t/a/e_t v(/a/d1) ;\n"), std::string::npos) << header;
  EXPECT_NE(header.find("\tint w(t, /a/d1) ;\n"), std::string::npos) << header;
  Extraction got = extract(file);
  EXPECT_EQ(render_value_file(at(got.tree, "groups/b/variables/w/dimensions")), "t, d1\n");
  EXPECT_EQ(render_value_file(at(got.tree, "groups/b/variables/w/shape")), "0, 2\n");

  // ncdump qualifies such a dimension with the first group, breadth first from the root,
  // that defines any dimension: here the root, not /a.
  TempDir dir;
  fs::path built = ncgen(dir.path(), "scopes.nc",
                         "netcdf scopes {\ndimensions:\n\td1 = 5 ;\ngroup: a {\n  dimensions:\n"
                         "\td1 = 2 ;\n\td2 = 3 ;\n  }\ngroup: b {\n  dimensions:\n\tt = 4 ;\n"
                         "  variables:\n\tint w(t, /a/d1) ;\n\tint x(/a/d2, d1) ;\n"
                         "  group: c {\n    dimensions:\n\td2 = 7 ;\n    variables:\n"
                         "\tint y(/a/d2, d2, d1) ;\n    }\n  }\n}\n",
                         "nc4");
  expect_like_ncdump(built);
  header = extract(built).header;
  EXPECT_NE(header.find("\tint w(t, /d1) ;\n"), std::string::npos) << header;
  EXPECT_NE(header.find("\tint y(/d2, d2, d1) ;\n"), std::string::npos) << header;
}

const std::string kCutCdl =
    "netcdf cut {\ndimensions:\n\tx = 2 ;\n\tt = UNLIMITED ;\nvariables:\n\tfloat a(t, x) ;\n"
    "\t\ta:units = \"m\" ;\n\t\ta:long_name = \"first\" ;\n\tdouble b(x) ;\n"
    "\t\tb:units = \"s\" ;\n\t\tb:long_name = \"SECOND variable, cut in its attributes\" ;\n"
    "\n// global attributes:\n\t\t:title = \"GLOBAL title\" ;\n\t\t:n = 1, 2, 3 ;\n}\n";

// A classic file cut inside its header shows the dimensions, attributes and variables read
// completely before the cut (as ncdump shows the same header without the rest), and error.
TEST(NetcdfMalformed, TruncatedClassicHeaderShowsWhatWasReadCompletely) {
  TempDir dir;
  for (std::string kind : {"nc3", "nc6", "nc5"}) {
    fs::path whole = ncgen(dir.path() / kind, "cut.nc", kCutCdl, kind);
    std::string bytes = test::read_file(whole);
    std::size_t in_b = bytes.find("SECOND");
    std::size_t in_title = bytes.find("GLOBAL");
    ASSERT_NE(in_b, std::string::npos);
    ASSERT_NE(in_title, std::string::npos);

    // Cut in the attributes of b: a and the global attributes remain.
    fs::path cut = dir.path() / (kind + "-b") / "cut.nc";
    fs::create_directories(cut.parent_path());
    std::ofstream(cut, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(in_b));
    std::string without_b = kCutCdl;
    without_b.erase(without_b.find("\tdouble b(x)"),
                    without_b.find("\n// global") - without_b.find("\tdouble b(x)"));
    fs::path expected = ncgen(dir.path() / (kind + "-expected-b"), "cut.nc", without_b, kind);
    Extraction got = extract(cut);
    EXPECT_EQ(got.error, "corrupt classic header: header runs past the end of the file") << kind;
    EXPECT_EQ(got.header, ncdump_header(expected)) << kind;
    EXPECT_EQ(at(got.tree, "variables/a/attributes/long_name").text, "first");
    EXPECT_EQ(at(got.tree, "attributes/title").text, "GLOBAL title");
    EXPECT_EQ(got.tree.find(at_id(got.tree, "variables"), "b"), MetaTree::kNotFound);

    // Cut in the global attributes: the dimensions remain.
    cut = dir.path() / (kind + "-title") / "cut.nc";
    fs::create_directories(cut.parent_path());
    std::ofstream(cut, std::ios::binary)
        .write(bytes.data(), static_cast<std::streamsize>(in_title));
    got = extract(cut);
    EXPECT_EQ(got.error, "corrupt classic header: header runs past the end of the file") << kind;
    EXPECT_EQ(got.header,
              "netcdf cut {\ndimensions:\n\tx = 2 ;\n\tt = UNLIMITED ; // (0 currently)\n}\n")
        << kind;
  }
}

// netCDF-C reads a classic header in blocks and, from memory, refuses to read past the end;
// through a file ncdump sees zeros there. Files cut anywhere after their header read alike.
TEST(NetcdfMalformed, ClassicFilesCutAfterTheirHeaderMatchNcdump) {
  TempDir dir;
  std::string bytes = test::read_file(test::corpus_dir() / "netcdf" / "CRM032_test1.nc");
  std::size_t identical = 0;
  for (std::size_t cut = 1000; cut < 1040; ++cut) {
    fs::path file = dir.path() / ("cut" + std::to_string(cut)) / "CRM032_test1.nc";
    fs::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
    Extraction got = extract(file);
    EXPECT_EQ(got.error, "") << cut;
    if (got.header == ncdump_header(file)) ++identical;
  }
  EXPECT_EQ(identical, 40u);
}

// An HDF5 file named .nc that netCDF-C refuses shows the HDF5 view, format netcdf (its name
// says so), and an error line saying why.
TEST(NetcdfTool, FileNetcdfCRefusesIsShownAsHdf5) {
  fs::path tool = test::binary("metafs-extract");
  TempDir dir;
  int status = -1;
  std::string list = run_command("/usr/bin/python3 " + shell_quote(kOracle.string()) + " refused " +
                                     shell_quote(dir.path().string()),
                                 &status);
  ASSERT_EQ(status, 0);
  std::istringstream lines(list);
  std::size_t seen = 0;
  for (std::string line; std::getline(lines, line); ++seen) {
    std::string file = shell_quote(line);
    run_command("ncdump -h " + file + " 2>&1", &status);
    EXPECT_NE(status, 0) << line << ": netCDF-C reads it now; pick another file";
    std::string t = shell_quote(tool.string());
    EXPECT_EQ(run_command(t + " --as format " + file + " 2>/dev/null"), "netcdf\n");
    std::string header = run_command(t + " --as header " + file + " 2>/dev/null");
    std::string name = fs::path(line).filename().string();
    EXPECT_EQ(header.substr(0, 9 + name.size()), "HDF5 \"" + name + "\" {") << header;
    std::string error = run_command(t + " --as header " + file + " 2>&1 >/dev/null", &status);
    EXPECT_NE(status, 0);
    EXPECT_NE(error.find("error: netCDF-C cannot read this file (cannot open as netCDF: NetCDF: "
                         "HDF error), shown as HDF5"),
              std::string::npos)
        << error;
    std::string txt = run_command(t + " --as txt " + file + " 2>/dev/null");
    EXPECT_FALSE(txt.empty());
  }
  EXPECT_EQ(seen, 2u);
  std::string txt =
      run_command(shell_quote(tool.string()) + " --as txt " +
                  shell_quote((dir.path() / "dangling_link.nc").string()) + " 2>/dev/null");
  EXPECT_NE(txt.find("units\tm\n"), std::string::npos) << txt;
}

// The malformed netCDF files of the corpus (per MANIFEST.tsv).
std::vector<fs::path> malformed_netcdf_files() {
  std::vector<fs::path> files;
  std::ifstream manifest(test::corpus_dir() / "MANIFEST.tsv");
  for (std::string line; std::getline(manifest, line);) {
    auto fields = split(line, "\t");
    if (fields.size() > 1 && fields[0].starts_with("malformed/") && fields[1].starts_with("netcdf"))
      files.push_back(test::corpus_dir() / fields[0]);
  }
  return files;
}

// Runs the extractor in a child process (some of these files crash netCDF-C itself) and
// returns its error line; a crash or a hang fails the test.
std::string error_in_child(const fs::path& file) {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    ::alarm(10);
    Extraction got = extract(file);
    std::string reply = got.error.empty() ? "no error" : got.error;
    if (::write(pipe_fds[1], reply.data(), reply.size()) < 0) ::_exit(3);
    ::_exit(0);
  }
  ::close(pipe_fds[1]);
  std::string reply;
  char buffer[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) reply.append(buffer, n);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << file << ": the extractor crashed or hung (signal "
      << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << ")";
  return reply;
}

TEST(NetcdfMalformed, EveryBrokenFileGivesAnErrorWithoutCrashing) {
  auto files = malformed_netcdf_files();
  ASSERT_EQ(files.size(), 6u);
  for (const auto& file : files) {
    std::string error = error_in_child(file);
    EXPECT_NE(error, "no error") << file;
    EXPECT_EQ(error.find('\n'), std::string::npos) << file;
    std::cout << "[ netcdf ] " << file.filename().string() << ": " << error << "\n";
  }
}

TEST(NetcdfMalformed, TruncatedCopiesOfEveryCorpusFileNeverCrash) {
  TempDir dir;
  for (const auto& file : corpus_files("netcdf")) {
    std::string bytes = test::read_file(file);
    for (std::size_t cut : {std::size_t{4}, bytes.size() / 3, bytes.size() / 2}) {
      fs::path copy = dir.path() / ("cut-" + std::to_string(cut) + "-" + file.filename().string());
      std::ofstream(copy, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(cut));
      error_in_child(copy);
    }
  }
}

// A CDF-5 header for one double variable big(y, x) of `y * x` values and a units attribute.
std::string cdf5_header(std::uint64_t y, std::uint64_t x, std::uint64_t* data_start) {
  std::string h;
  auto u32 = [&h](std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) h += static_cast<char>((v >> s) & 0xff);
  };
  auto u64 = [&h](std::uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) h += static_cast<char>((v >> s) & 0xff);
  };
  auto name = [&](const std::string& n) {
    u64(n.size());
    h += n;
    h.append((4 - n.size() % 4) % 4, '\0');
  };
  h += "CDF";
  h += '\x05';
  u64(0);  // numrecs
  u32(0x0A);
  u64(2);
  name("y");
  u64(y);
  name("x");
  u64(x);
  u32(0);  // no global attributes
  u64(0);
  u32(0x0B);
  u64(1);
  name("big");
  u64(2);
  u64(0);
  u64(1);
  u32(0x0C);
  u64(1);
  name("units");
  u32(2);  // NC_CHAR
  u64(1);
  h += "m";
  h.append(3, '\0');
  u32(6);  // NC_DOUBLE
  u64(y * x * 8);
  *data_start = h.size() + 8;
  u64(*data_start);
  return h;
}

TEST(NetcdfHuge, SparseFileWithA64GiBVariableCostsMilliseconds) {
  TempDir dir;
  fs::path file = dir.path() / "huge.nc";
  std::uint64_t start = 0;
  std::string header = cdf5_header(1u << 10, 1u << 23, &start);
  std::uint64_t data_bytes = std::uint64_t{1} << 36;  // 64 GiB
  int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, header.data(), header.size()), static_cast<ssize_t>(header.size()));
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(start + data_bytes)), 0) << "no sparse files here";
  ::close(fd);
  ASSERT_EQ(fs::file_size(file), start + data_bytes);

  extract(file);  // warm the library once
  auto t0 = std::chrono::steady_clock::now();
  Extraction got = extract(file);
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);
  ASSERT_EQ(got.error, "");
  EXPECT_EQ(render_value_file(at(got.tree, "variables/big/shape")), "1024, 8388608\n");
  EXPECT_EQ(at(got.tree, "variables/big/attributes/units").text, "m");
  EXPECT_EQ(at(got.tree, "format_variant").text, "cdf5");
  EXPECT_EQ(got.header, ncdump_header(file));
  std::cout << "[ netcdf ] 64 GiB sparse file extracted in " << ms.count() << " ms\n";
  EXPECT_LT(ms.count(), 50.0);
}

TEST(NetcdfThreads, ConcurrentExtractionsGiveTheSameResults) {
  auto files = corpus_files("netcdf");
  std::vector<Extraction> expected;
  for (const auto& file : files) expected.push_back(extract(file));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < files.size(); ++i) {
          Extraction got = extract(files[(i + static_cast<std::size_t>(t)) % files.size()]);
          const Extraction& want = expected[(i + static_cast<std::size_t>(t)) % files.size()];
          if (!(got.tree == want.tree) || got.header != want.header) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(NetcdfTool, MetafsExtractPrintsTheHeaderAndFields) {
  fs::path tool = test::binary("metafs-extract");
  ASSERT_TRUE(fs::exists(tool)) << "build metafs-extract first: " << tool;
  fs::path classic = test::corpus_dir() / "netcdf" / "CRM032_test1.nc";
  fs::path nc4 = test::corpus_dir() / "netcdf" / "test_groups1.nc";
  int status = -1;
  std::string header = run_command(
      shell_quote(tool.string()) + " --as header " + shell_quote(classic.string()), &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(header, ncdump_header(classic));
  EXPECT_EQ(
      run_command(shell_quote(tool.string()) + " --as format " + shell_quote(classic.string())),
      "netcdf\n");
  header = run_command(
      shell_quote(tool.string()) + " --format netcdf --as header " + shell_quote(nc4.string()),
      &status);
  EXPECT_EQ(status, 0);
  EXPECT_EQ(header, ncdump_header(nc4));
  std::string txt =
      run_command(shell_quote(tool.string()) + " --as txt " + shell_quote(classic.string()));
  EXPECT_NE(txt.find("variables/MSLP/attributes/units\thPa\n"), std::string::npos) << txt;
}

}  // namespace
}  // namespace metafs::extract
