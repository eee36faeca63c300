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
        // An enum value shows as its member's name.
        if (item.contains("enum_members") && item["enum_members"].contains(got[i]))
          got[i] = item["enum_members"][got[i]].dump();
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

const MetaNode& at(const MetaTree& tree, const std::string& path) {
  NodeId id = MetaTree::kRoot;
  for (const auto& part : split(path, "/")) {
    id = tree.find(id, part);
    if (id == MetaTree::kNotFound) throw std::runtime_error("no " + path);
  }
  return tree.node(id);
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
