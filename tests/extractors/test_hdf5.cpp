// The HDF5 extractor against its oracles: `h5dump -H` (header.txt) and h5py (every object,
// attribute value, shape and storage property in fields/), over the shared corpus and files
// the oracle script generates (filters, fill values, enums, references, cycles, a 64 GiB
// sparse dataset).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "corpus.hpp"
#include "hdf5/hdf5_extractor.hpp"
#include "hdf5/hdf5_value_text.hpp"
#include "meta_tree.hpp"
#include "mount_runner.hpp"
#include "render.hpp"
#include "temp_dir.hpp"

namespace metafs::extract {
namespace {

namespace fs = std::filesystem;
using test::corpus_dir;
using test::corpus_files;
using test::run_command;
using test::shell_quote;
using test::TempDir;

const fs::path kOracle = fs::path(METAFS_ORACLE_DIR) / "hdf5_oracle.py";
const fs::path kExtractTool = test::binary("metafs-extract");

Extraction extract(const fs::path& path, const Extractor& extractor) {
  Extraction out;
  out.format = Format::kHdf5;
  try {
    extractor.extract(open_source_file(path), out);
  } catch (const ExtractError& e) {
    out.error = e.what();
  }
  return out;
}

Extraction extract(const fs::path& path) {
  static const auto extractor = make_hdf5_extractor();
  return extract(path, *extractor);
}

Extraction extract_descriptor(int fd, const std::string& name) {
  Extraction out;
  out.format = Format::kHdf5;
  try {
    extract_hdf5(fd, name, hdf5::Limits{}, out);
  } catch (const ExtractError& e) {
    out.error = e.what();
  }
  return out;
}

nlohmann::json run_oracle(const std::vector<fs::path>& files) {
  std::string command = "/usr/bin/python3 " + shell_quote(kOracle.string());
  for (const auto& file : files) command += " " + shell_quote(file.string());
  int status = -1;
  std::string out = run_command(command, &status);
  EXPECT_EQ(status, 0) << "oracle failed: " << command;
  return nlohmann::json::parse(out, nullptr, false);
}

void make_with_oracle(const std::string& option, const fs::path& out,
                      const std::string& extra = "") {
  int status = -1;
  run_command("/usr/bin/python3 " + shell_quote(kOracle.string()) + " " + option + " " +
                  shell_quote(out.string()) + " " + extra,
              &status);
  ASSERT_EQ(status, 0) << "could not generate " << out;
}

// The node at `path` (HDF5 names separated by '/', each escaped as fields/ does).
NodeId find_path(const MetaTree& tree, const std::string& path) {
  NodeId id = MetaTree::kRoot;
  std::stringstream parts(path);
  std::string part;
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    id = tree.find(id, escape_name(part));
    if (id == MetaTree::kNotFound) return id;
  }
  return id;
}

const MetaNode* child(const MetaTree& tree, NodeId dir, std::string_view escaped) {
  if (dir == MetaTree::kNotFound) return nullptr;
  NodeId id = tree.find(dir, escaped);
  return id == MetaTree::kNotFound ? nullptr : &tree.node(id);
}

std::string value_of(const MetaTree& tree, const std::string& path, std::string_view field) {
  const MetaNode* node = child(tree, find_path(tree, path), field);
  return node == nullptr ? "<missing " + path + "/" + std::string(field) + ">" : node->text;
}

std::string attribute_of(const MetaTree& tree, const std::string& path, const std::string& name) {
  NodeId dir = find_path(tree, path);
  NodeId attributes = dir == MetaTree::kNotFound ? dir : tree.find(dir, "%attributes");
  const MetaNode* node = child(tree, attributes, escape_name(name));
  return node == nullptr ? "<missing attribute " + name + ">" : node->text;
}

// Numbers written differently by two correct formatters ("1" and "1.0") compare equal.
std::string normalize_numbers(const std::string& text) {
  static const std::regex kNumber(R"((^|[^\w.])(-?\d+(\.\d+)?([eE][-+]?\d+)?)(?![\w.]))");
  std::string out;
  auto begin = std::sregex_iterator(text.begin(), text.end(), kNumber);
  std::size_t last = 0;
  for (auto it = begin; it != std::sregex_iterator(); ++it) {
    const auto& m = *it;
    auto pos = static_cast<std::size_t>(m.position(2));
    out.append(text, last, pos - last);
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.17g", std::strtod(m.str(2).c_str(), nullptr));
    out += buffer;
    last = pos + m.str(2).size();
  }
  out.append(text, last, std::string::npos);
  return out;
}

std::string join_numbers(const nlohmann::json& array) {
  std::string out;
  for (std::size_t i = 0; i < array.size(); ++i) {
    if (i != 0) out += ", ";
    out += array[i].is_string() ? array[i].get<std::string>()
                                : std::to_string(array[i].get<long long>());
  }
  return out;
}

struct Fidelity {
  int objects = 0, objects_ok = 0;
  int attributes = 0, attributes_ok = 0;
  int shapes = 0, shapes_ok = 0;
  int links = 0, links_ok = 0;
};

// Everything h5py reads from `file` appears in the extraction with the same value.
void compare_with_oracle(const fs::path& file, const nlohmann::json& expected,
                         const Extraction& got, Fidelity& fidelity) {
  SCOPED_TRACE(file.string());
  ASSERT_FALSE(got.failed()) << got.error;
  const MetaTree& tree = got.tree;
  for (const auto& [path, object] : expected["objects"].items()) {
    SCOPED_TRACE(path);
    ++fidelity.objects;
    NodeId dir = find_path(tree, path);
    ASSERT_NE(dir, MetaTree::kNotFound) << "object missing from fields/";
    ASSERT_TRUE(tree.node(dir).is_dir()) << "object's first link is not a directory";
    bool ok = value_of(tree, path, "%kind") == object["kind"].get<std::string>();
    EXPECT_EQ(value_of(tree, path, "%kind"), object["kind"].get<std::string>());
    NodeId attributes = tree.find(dir, "%attributes");
    for (const auto& [name, attribute] : object["attrs"].items()) {
      SCOPED_TRACE("attribute " + name);
      ++fidelity.attributes;
      const MetaNode* node = child(tree, attributes, escape_name(name));
      ASSERT_NE(node, nullptr) << "attribute missing";
      std::string want = attribute["text"].get<std::string>();
      bool same = normalize_numbers(node->text) == normalize_numbers(want);
      EXPECT_EQ(normalize_numbers(node->text), normalize_numbers(want));
      if (attribute["number"].get<bool>()) {
        EXPECT_EQ(node->kind, ValueKind::kNumber) << "numeric attribute not a JSON number";
        same = same && node->kind == ValueKind::kNumber;
      }
      if (attribute["list"].get<bool>()) {
        EXPECT_FALSE(node->items.empty() && !want.empty()) << "array attribute not a list";
      }
      if (same) ++fidelity.attributes_ok;
    }
    if (object["kind"] == "dataset") {
      ++fidelity.shapes;
      bool shape_ok = true;
      if (object["shape"].is_null()) {
        shape_ok = value_of(tree, path, "%dataspace") == "null";
      } else if (object["shape"].empty()) {
        shape_ok = value_of(tree, path, "%dataspace") == "scalar";
      } else {
        shape_ok = value_of(tree, path, "%shape") == join_numbers(object["shape"]) &&
                   value_of(tree, path, "%maxshape") == join_numbers(object["maxshape"]);
      }
      EXPECT_TRUE(shape_ok) << "shape " << value_of(tree, path, "%shape") << " / "
                            << value_of(tree, path, "%maxshape") << " vs " << object["shape"].dump()
                            << " / " << object["maxshape"].dump();
      EXPECT_EQ(value_of(tree, path, "%layout"), object["layout"].get<std::string>());
      EXPECT_EQ(value_of(tree, path, "%storage_size"),
                std::to_string(object["storage_size"].get<long long>()));
      if (object["chunks"].is_null()) {
        EXPECT_EQ(child(tree, dir, "%chunks"), nullptr);
      } else {
        EXPECT_EQ(value_of(tree, path, "%chunks"), join_numbers(object["chunks"]));
      }
      std::string filters = value_of(tree, path, "%filters");
      for (const auto& filter : object["filters"]) {
        int id = filter[0].get<int>();
        const auto& cd = filter[1];
        std::string want =
            id == 1   ? "deflate level=" + std::to_string(cd[0].get<int>())
            : id == 2 ? "shuffle"
            : id == 3 ? "fletcher32"
            : id == 4 ? "szip coding=" + std::string((cd[0].get<int>() & 4) ? "ec" : "nn") +
                            " pixels_per_block=" + std::to_string(cd[1].get<int>())
                      : "filter id=" + std::to_string(id);
        EXPECT_NE(filters.find(want), std::string::npos) << filters << " lacks " << want;
        shape_ok = shape_ok && filters.find(want) != std::string::npos;
      }
      if (!object["fillvalue"].is_null() && child(tree, dir, "%fill_value") != nullptr) {
        EXPECT_EQ(normalize_numbers(value_of(tree, path, "%fill_value")),
                  normalize_numbers(object["fillvalue"].get<std::string>()));
      }
      if (shape_ok) ++fidelity.shapes_ok;
    }
    if (ok) ++fidelity.objects_ok;
  }
  for (const auto& [path, link] : expected["links"].items()) {
    SCOPED_TRACE("link " + path);
    ++fidelity.links;
    bool ok = value_of(tree, path, "%kind") == link["kind"].get<std::string>();
    EXPECT_EQ(value_of(tree, path, "%kind"), link["kind"].get<std::string>());
    if (link.contains("target")) {
      EXPECT_EQ(value_of(tree, path, "%target"), link["target"].get<std::string>());
      ok = ok && value_of(tree, path, "%target") == link["target"].get<std::string>();
    }
    if (link.contains("file")) {
      EXPECT_EQ(value_of(tree, path, "%file"), link["file"].get<std::string>());
      ok = ok && value_of(tree, path, "%file") == link["file"].get<std::string>();
    }
    if (ok) ++fidelity.links_ok;
  }
}

TEST(Hdf5Extractor, EveryCorpusFileMatchesH5py) {
  auto files = corpus_files("hdf5");
  ASSERT_GE(files.size(), 16u);
  nlohmann::json oracle = run_oracle(files);
  ASSERT_TRUE(oracle.is_object()) << "oracle output is not JSON";
  Fidelity fidelity;
  int compared_files = 0;
  for (const auto& file : files) {
    const auto& expected = oracle[file.string()];
    Extraction got = extract(file);
    if (expected.contains("error")) {
      // h5py cannot open every valid file (user-defined links); the h5dump test covers it.
      EXPECT_EQ(file.filename(), "tall_with_udlink.h5") << expected["error"];
      EXPECT_FALSE(got.failed()) << got.error;
      continue;
    }
    ++compared_files;
    compare_with_oracle(file, expected, got, fidelity);
  }
  std::printf(
      "fidelity over %d files: objects %d/%d, attributes %d/%d, datasets %d/%d, links %d/%d\n",
      compared_files, fidelity.objects_ok, fidelity.objects, fidelity.attributes_ok,
      fidelity.attributes, fidelity.shapes_ok, fidelity.shapes, fidelity.links_ok, fidelity.links);
  EXPECT_EQ(fidelity.objects_ok, fidelity.objects);
  EXPECT_EQ(fidelity.attributes_ok, fidelity.attributes);
  EXPECT_GT(fidelity.attributes, 1000);
}

// h5dump's lines, minus the objects it prints by following an external link (metafs never
// follows them): deeper-indented lines right after a TARGETPATH line.
std::string h5dump_header(const fs::path& file) {
  int status = -1;
  std::string text = run_command("cd " + shell_quote(file.parent_path().string()) +
                                     " && h5dump -H " + shell_quote(file.filename().string()),
                                 &status);
  EXPECT_EQ(status, 0) << "h5dump -H failed on " << file;
  std::istringstream in(text);
  std::string line;
  std::string out;
  std::size_t skip_deeper_than = std::string::npos;
  while (std::getline(in, line)) {
    std::size_t indent = line.find_first_not_of(' ');
    if (skip_deeper_than != std::string::npos) {
      if (indent != std::string::npos && indent > skip_deeper_than) continue;
      skip_deeper_than = std::string::npos;
    }
    if (line.find("TARGETPATH ") != std::string::npos) skip_deeper_than = indent;
    out += line + "\n";
  }
  return out;
}

TEST(Hdf5Extractor, HeaderIsH5dashH) {
  for (const auto& file : corpus_files("hdf5")) {
    SCOPED_TRACE(file.string());
    Extraction got = extract(file);
    ASSERT_FALSE(got.failed()) << got.error;
    EXPECT_EQ(got.header, h5dump_header(file));
  }
}

// The regression inputs of comments, committed types and enum names (issue 16).
TEST(Hdf5Extractor, RegressionInputsAreH5dashH) {
  const fs::path dir = corpus_dir() / "regressions" / "hdf5";
  for (const char* name :
       {"object_comments.h5", "committed_datatypes.h5", "enum_long_member_names.h5"}) {
    SCOPED_TRACE(name);
    Extraction got = extract(dir / name);
    ASSERT_FALSE(got.failed()) << got.error;
    EXPECT_EQ(got.header, h5dump_header(dir / name));
  }
  Extraction comments = extract(dir / "object_comments.h5");
  EXPECT_EQ(value_of(comments.tree, "/", "%comment"), "root comment");
  EXPECT_EQ(value_of(comments.tree, "/d", "%comment"), "This is a dataset");
  EXPECT_EQ(value_of(comments.tree, "/g1", "%comment"), "Comment for group /g1");
  Extraction types = extract(dir / "committed_datatypes.h5");
  EXPECT_EQ(value_of(types.tree, "/x", "%named_dtype"), "/type");
  EXPECT_EQ(value_of(types.tree, "/y", "%named_dtype"), "/#1176");
  EXPECT_EQ(value_of(types.tree, "/y", "%dtype"),
            "H5T_COMPOUND { H5T_STD_I32LE \"a\"; H5T_IEEE_F32LE \"b\"; }");
}

// Comments (repeated at a group's further links), named and anonymous committed types used by
// datasets and attributes, a second link to a named type, enum members of 9 to 26
// characters and one with a newline: as h5dump -H prints them, and every value as h5py reads it.
TEST(Hdf5Extractor, CommentsCommittedTypesAndEnumsAreH5dashH) {
  TempDir dir;
  fs::path file = dir.path() / "details.h5";
  make_with_oracle("--make-details", file);
  Extraction got = extract(file);
  ASSERT_FALSE(got.failed()) << got.error;
  EXPECT_EQ(got.header, h5dump_header(file));
  EXPECT_NE(got.header.find("   COMMENT \"a group\ncomment with \"quotes\"\"\n"),
            std::string::npos);
  EXPECT_NE(got.header.find("\"two\nlines\"        4;\n"), std::string::npos);
  EXPECT_NE(got.header.find("   DATATYPE \"named_alias\" HARDLINK \"/named\"\n"),
            std::string::npos);
  const MetaTree& tree = got.tree;
  EXPECT_EQ(value_of(tree, "/", "%comment"), "root comment");
  EXPECT_EQ(value_of(tree, "/group", "%comment"), "a group\ncomment with \"quotes\"");
  EXPECT_EQ(value_of(tree, "/dset", "%comment"), "a dataset");
  // h5dump shows no comment of a named datatype; fields/ does.
  EXPECT_EQ(value_of(tree, "/named", "%comment"), "not shown by h5dump");
  EXPECT_EQ(value_of(tree, "/dset", "%named_dtype"), "/named");
  std::string anonymous = value_of(tree, "/group/uses_anonymous", "%named_dtype");
  EXPECT_TRUE(std::regex_match(anonymous, std::regex("/#[0-9]+"))) << anonymous;
  EXPECT_NE(got.header.find("DATATYPE  \"" + anonymous + "\""), std::string::npos);
  EXPECT_NE(got.header.find("   DATATYPE \"" + anonymous.substr(1) +
                            "\" H5T_IEEE_F32LE;\n      ATTRIBUTE \"kept\" {\n"),
            std::string::npos);
  const MetaNode* alias = child(tree, MetaTree::kRoot, "named_alias");
  ASSERT_NE(alias, nullptr);
  EXPECT_EQ(alias->type, MetaNode::Type::kLink);
  // h5py's values, the empty ones included (null dataspace, 0 elements, empty string).
  nlohmann::json oracle = run_oracle({file});
  Fidelity fidelity;
  compare_with_oracle(file, oracle[file.string()], got, fidelity);
  EXPECT_EQ(fidelity.attributes_ok, fidelity.attributes);
  EXPECT_GE(fidelity.attributes, 8);
}

// A 0-element simple dataspace is an empty list; a null dataspace and an empty string are one
// empty value.
TEST(Hdf5Extractor, EmptyDataspacesAndEmptyStrings) {
  hdf5::FileModel model;
  hdf5::Limits limits;
  hdf5::Data none;
  hdf5::DataText zero = hdf5::data_text(
      none, hdf5::Dataspace{hdf5::Dataspace::Class::kSimple, {0}, {0}}, model, limits);
  EXPECT_TRUE(zero.is_list);
  EXPECT_TRUE(zero.items.empty());
  EXPECT_EQ(zero.kind, ValueKind::kString);  // an empty number would be written as 0
  hdf5::DataText null =
      hdf5::data_text(none, hdf5::Dataspace{hdf5::Dataspace::Class::kNull, {}, {}}, model, limits);
  EXPECT_FALSE(null.is_list);
  EXPECT_EQ(null.text, "");
  hdf5::Data empty_string;
  empty_string.count = 1;
  empty_string.values.push_back(hdf5::Value{});
  hdf5::DataText text = hdf5::data_text(
      empty_string, hdf5::Dataspace{hdf5::Dataspace::Class::kScalar, {}, {}}, model, limits);
  EXPECT_FALSE(text.is_list);
  EXPECT_EQ(text.text, "");
  EXPECT_EQ(text.kind, ValueKind::kString);
}

// The same through a real file, as h5py writes and reads it: metadata.json holds [] for the
// 0-element attribute (h5py: an empty array), "" for the null dataspace (h5py.Empty) and for
// the empty string.
TEST(Hdf5Extractor, EmptyListsReachMetadataJson) {
  TempDir dir;
  fs::path file = dir.path() / "empty.h5";
  std::string script =
      "import h5py, numpy as np, sys\n"
      "with h5py.File(sys.argv[1], 'w') as f:\n"
      "    f.attrs['zero'] = np.zeros((0,), dtype='i4')\n"
      "    f.attrs['null'] = h5py.Empty('f4')\n"
      "    f.attrs['blank'] = ''\n";
  std::string out = run_command("/usr/bin/python3 -c " + shell_quote(script) + " " +
                                shell_quote(file.string()) + " 2>&1");
  ASSERT_TRUE(fs::exists(file)) << out;
  Extraction got = extract(file);
  ASSERT_FALSE(got.failed()) << got.error;
  auto json = nlohmann::json::parse(render_json(got.tree));
  const auto& attributes = json["%attributes"];
  EXPECT_EQ(attributes["zero"], nlohmann::json::array()) << json.dump();
  EXPECT_EQ(attributes["null"], "") << json.dump();
  EXPECT_EQ(attributes["blank"], "") << json.dump();
}

// VAX floats and variable-length strings of big-endian characters keep h5dump's type names.
TEST(Hdf5Extractor, UnusualTypeNamesAreH5dashH) {
  TempDir dir;
  fs::path file = dir.path() / "unusual.h5";
  make_with_oracle("--make-unusual-types", file);
  Extraction got = extract(file);
  ASSERT_FALSE(got.failed()) << got.error;
  EXPECT_EQ(got.header, h5dump_header(file));
  EXPECT_NE(got.header.find("DATATYPE  H5T_VAX_F64\n"), std::string::npos);
  EXPECT_NE(got.header.find("CTYPE H5T_C_S1;"), std::string::npos);
  EXPECT_EQ(got.header.find("unknown_one_character_type"), std::string::npos);
  // h5py cannot read VAX floats; h5dump -A shows these values.
  EXPECT_EQ(attribute_of(got.tree, "/", "vax_f64"), "1.5");
  EXPECT_EQ(attribute_of(got.tree, "/", "vax_f32"), "0.25, -2");
  EXPECT_EQ(attribute_of(got.tree, "/", "big_endian_text"), "from s390x");
}

TEST(Hdf5Extractor, HeaderOfGeneratedFeaturesIsH5dashH) {
  TempDir dir;
  fs::path file = dir.path() / "features.h5";
  make_with_oracle("--make-features", file);
  Extraction got = extract(file);
  ASSERT_FALSE(got.failed()) << got.error;
  EXPECT_EQ(got.header, h5dump_header(file));
}

TEST(Hdf5Extractor, GeneratedFeaturesMatchH5py) {
  TempDir dir;
  fs::path file = dir.path() / "features.h5";
  make_with_oracle("--make-features", file);
  nlohmann::json oracle = run_oracle({file});
  Extraction got = extract(file);
  Fidelity fidelity;
  compare_with_oracle(file, oracle[file.string()], got, fidelity);
  EXPECT_EQ(fidelity.attributes_ok, fidelity.attributes);
  EXPECT_GE(fidelity.attributes, 15);

  const MetaTree& tree = got.tree;
  // The dataset's first link in name order is /alias; the later one is a symbolic link.
  EXPECT_EQ(value_of(tree, "/alias", "%filters"), "shuffle, deflate level=4, fletcher32");
  EXPECT_EQ(value_of(tree, "/alias", "%chunks"), "5, 20");
  EXPECT_EQ(value_of(tree, "/alias", "%maxshape"), "unlimited, 20");
  EXPECT_EQ(value_of(tree, "/alias", "%fill_value"), "-999.5");
  EXPECT_EQ(value_of(tree, "/alias", "%dtype"), "H5T_IEEE_F32LE");
  NodeId data = find_path(tree, "/data");
  const MetaNode* temperature = child(tree, data, "temperature");
  ASSERT_NE(temperature, nullptr);
  EXPECT_EQ(temperature->type, MetaNode::Type::kLink);
  EXPECT_EQ(temperature->text, "../alias");
  const MetaNode* loop = child(tree, data, "loop");
  ASSERT_NE(loop, nullptr);
  EXPECT_EQ(loop->type, MetaNode::Type::kLink);
  EXPECT_EQ(loop->text, "../data");
  EXPECT_EQ(value_of(tree, "/soft", "%target"), "/data/temperature");
  EXPECT_EQ(value_of(tree, "/ext", "%file"), "other.h5");
  EXPECT_EQ(value_of(tree, "/data/unknown_filter", "%filters"),
            "filter id=32004 params=0 1, deflate level=6");
  EXPECT_EQ(value_of(tree, "/data/scalar", "%dataspace"), "scalar");
  EXPECT_EQ(value_of(tree, "/data/nothing", "%dataspace"), "null");

  NodeId attributes = tree.find(find_path(tree, "/alias"), "%attributes");
  auto attribute = [&](std::string_view name) { return child(tree, attributes, name); };
  ASSERT_NE(attribute("big"), nullptr);
  EXPECT_EQ(attribute("big")->text,
            "0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, ... (1000 values)");
  EXPECT_EQ(attribute("valid_range")->items, (std::vector<std::string>{"-50.5", "60.25"}));
  EXPECT_EQ(attribute("valid_range")->kind, ValueKind::kNumber);
  EXPECT_EQ(attribute("color")->text, "BLUE");
  EXPECT_EQ(attribute("names")->items, (std::vector<std::string>{"alpha", "beta", "gamma"}));
  EXPECT_EQ(attribute("ragged")->text, "[1, 2, 3], [4]");
  EXPECT_EQ(attribute("self")->text, "/alias");
  EXPECT_EQ(attribute("utf8")->text, "gr\u00fc\u00df dich");
  EXPECT_EQ(attribute("empty")->text, "");
  const MetaNode* where = child(tree, tree.find(MetaTree::kRoot, "%attributes"), "where");
  ASSERT_NE(where, nullptr);
  EXPECT_EQ(where->text, "/data");

  std::string json = render_json(tree);
  auto parsed = nlohmann::json::parse(json, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded());
  EXPECT_EQ(parsed["alias"]["%attributes"]["valid_range"], nlohmann::json({-50.5, 60.25}));
  EXPECT_EQ(parsed["alias"]["%shape"], nlohmann::json({10, 20}));
  EXPECT_EQ(parsed["alias"]["%storage_size"], 0);
  EXPECT_EQ(parsed["%attributes"]["title"], "features");
}

TEST(Hdf5Extractor, LinksUserBlockAndSzip) {
  const fs::path dir = corpus_dir() / "hdf5";
  Extraction sample = extract(dir / "sample.h5");
  const MetaNode* group2 = child(sample.tree, MetaTree::kRoot, "group2");
  ASSERT_NE(group2, nullptr);
  EXPECT_EQ(group2->type, MetaNode::Type::kLink);
  EXPECT_EQ(group2->text, "group1");
  EXPECT_EQ(value_of(sample.tree, "/group1/dset3", "%named_dtype"), "/type1");
  EXPECT_EQ(value_of(sample.tree, "/type1", "%kind"), "named datatype");
  EXPECT_EQ(value_of(sample.tree, "/dset2", "%dtype"),
            "H5T_COMPOUND { H5T_IEEE_F64BE \"c\"; H5T_IEEE_F32BE \"b\"; H5T_STD_I32BE \"a\"; }");
  EXPECT_EQ(value_of(sample.tree, "/dset3", "%dtype"), "H5T_VLEN { H5T_STD_I32LE}");

  Extraction tall = extract(dir / "tall.h5");
  EXPECT_EQ(value_of(tall.tree, "/g1/g1.2/extlink", "%kind"), "external link");
  EXPECT_EQ(value_of(tall.tree, "/g1/g1.2/extlink", "%file"), "somefile");
  EXPECT_EQ(value_of(tall.tree, "/g1/g1.2/extlink", "%target"), "somepath");
  EXPECT_EQ(value_of(tall.tree, "/g1/g1.2/g1.2.1/slink", "%target"), "somevalue");

  Extraction udlink = extract(dir / "tall_with_udlink.h5");
  EXPECT_EQ(value_of(udlink.tree, "/g2/udlink", "%kind"), "user-defined link");
  EXPECT_EQ(value_of(udlink.tree, "/g2/udlink", "%link_class"), "187");

  // The external link's target file exists beside it, but is never opened.
  Extraction links = extract(dir / "test_file.hdf5");
  NodeId external = find_path(links.tree, "/links_group/external_link");
  ASSERT_NE(external, MetaTree::kNotFound);
  EXPECT_EQ(value_of(links.tree, "/links_group/external_link", "%file"), "test_file_ext.hdf5");
  EXPECT_EQ(child(links.tree, external, "%dtype"), nullptr);
  EXPECT_EQ(value_of(links.tree, "/links_group/broken_soft_link", "%target"),
            "/datasets_group/int/missing_dataset");
  const MetaNode* hard =
      child(links.tree, find_path(links.tree, "/links_group"), "hard_link_to_int8");
  ASSERT_NE(hard, nullptr);
  EXPECT_EQ(hard->text, "../datasets_group/int/int8");

  Extraction userblock = extract(dir / "test_userblock_latest.hdf5");
  ASSERT_FALSE(userblock.failed()) << userblock.error;
  EXPECT_EQ(value_of(userblock.tree, "/", "%userblock_size"), "1024");
  EXPECT_EQ(value_of(userblock.tree, "/", "%superblock_version"), "3");

  Extraction szip = extract(dir / "ref_szip.h5");
  EXPECT_EQ(value_of(szip.tree, "/dset_szip", "%filters"), "szip coding=nn pixels_per_block=8");
  EXPECT_EQ(value_of(szip.tree, "/dset_szip", "%chunks"), "20, 10");
  EXPECT_EQ(value_of(szip.tree, "/dset_szip", "%storage_size"), "924");

  Extraction extern_storage = extract(dir / "h5ex_d_extern.h5");
  EXPECT_EQ(value_of(extern_storage.tree, "/DS1", "%external"),
            "h5ex_d_extern.data offset=0 size=unlimited");
}

TEST(Hdf5Extractor, ThousandGroupsAndAttributes) {
  const fs::path dir = corpus_dir() / "hdf5";
  Extraction groups = extract(dir / "group1k.h5");
  ASSERT_FALSE(groups.failed()) << groups.error;
  std::size_t group_dirs = 0;
  for (NodeId id : groups.tree.node(MetaTree::kRoot).children) {
    if (groups.tree.node(id).is_dir()) ++group_dirs;
  }
  EXPECT_EQ(group_dirs, 1000u);
  EXPECT_EQ(value_of(groups.tree, "/g0999", "%kind"), "group");
  EXPECT_EQ(child(groups.tree, MetaTree::kRoot, "%note"), nullptr);

  Extraction attributes = extract(dir / "attr1k.h5");
  NodeId list = attributes.tree.find(MetaTree::kRoot, "%attributes");
  ASSERT_NE(list, MetaTree::kNotFound);
  EXPECT_EQ(attributes.tree.node(list).children.size(), 1000u);
}

TEST(Hdf5Extractor, LimitsLeaveAVisibleNote) {
  const fs::path dir = corpus_dir() / "hdf5";
  hdf5::Limits limits;
  limits.max_links_per_group = 100;
  limits.max_attributes_per_object = 10;
  auto small = make_hdf5_extractor(limits);
  Extraction groups = extract(dir / "group1k.h5", *small);
  EXPECT_EQ(groups.tree.node(MetaTree::kRoot).children.size(), 3u + 100u + 1u);
  EXPECT_EQ(value_of(groups.tree, "/", "%note"),
            "only the first 100 of 1000 links in storage order are listed (limit per group)");
  EXPECT_NE(groups.header.find("/* only the first 100 of 1000 links in storage order are listed"),
            std::string::npos);

  Extraction attributes = extract(dir / "attr1k.h5", *small);
  NodeId list = attributes.tree.find(MetaTree::kRoot, "%attributes");
  EXPECT_EQ(attributes.tree.node(list).children.size(), 10u);
  EXPECT_EQ(value_of(attributes.tree, "/", "%note"),
            "only the first 10 of 1000 attributes in storage order are listed (limit per object)");

  hdf5::Limits tiny;
  tiny.max_objects = 50;
  Extraction capped = extract(dir / "group1k.h5", *make_hdf5_extractor(tiny));
  EXPECT_NE(value_of(capped.tree, "/", "%note").find("listing stopped after 50 objects"),
            std::string::npos);
}

TEST(Hdf5Extractor, HundredThousandLinksAndAttributesAreCappedQuickly) {
  TempDir dir;
  fs::path file = dir.path() / "wide.h5";
  make_with_oracle("--make-wide", file, "100000");
  auto start = std::chrono::steady_clock::now();
  Extraction got = extract(file);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  std::printf("100000 links + 100000 attributes described in %lld ms, tree %zu KiB\n",
              static_cast<long long>(ms), got.tree.memory_bytes() >> 10);
  ASSERT_FALSE(got.failed()) << got.error;
  NodeId wide = find_path(got.tree, "/wide");
  // The file-wide limit on links is reached first: "/wide" itself is one of them.
  const hdf5::Limits limits;
  std::size_t listed = limits.max_objects - 1;
  EXPECT_EQ(value_of(got.tree, "/wide", "%note"),
            "only the first " + std::to_string(limits.max_attributes_per_object) +
                " of 100000 attributes in storage order are listed (limit per object); only the "
                "first " +
                std::to_string(listed) +
                " of 100000 links in storage order are listed (limit per file)");
  EXPECT_EQ(value_of(got.tree, "/", "%note"),
            "listing stopped after " + std::to_string(limits.max_objects) + " objects and links");
  EXPECT_EQ(got.tree.node(got.tree.find(wide, "%attributes")).children.size(),
            limits.max_attributes_per_object);
  std::size_t links = 0;
  for (NodeId id : got.tree.node(wide).children) links += got.tree.node(id).is_dir() ? 1 : 0;
  EXPECT_EQ(links, listed + 1u);  // and %attributes
  EXPECT_LT(got.tree.memory_bytes(), 64u << 20);
  EXPECT_LT(ms, 5000);
}

TEST(Hdf5Extractor, HugeSparseDatasetCostsMilliseconds) {
  TempDir dir;
  fs::path file = dir.path() / "huge.h5";
  make_with_oracle("--make-huge", file, "64");
  ASSERT_GE(fs::file_size(file), 64ull << 30);
  auto start = std::chrono::steady_clock::now();
  Extraction got = extract(file);
  auto elapsed = std::chrono::steady_clock::now() - start;
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
  std::printf("64 GiB sparse file described in %lld us\n", static_cast<long long>(us));
  ASSERT_FALSE(got.failed()) << got.error;
  EXPECT_EQ(value_of(got.tree, "/huge", "%shape"), std::to_string((64ull << 30) / 8));
  EXPECT_EQ(value_of(got.tree, "/huge", "%storage_size"), std::to_string(64ull << 30));
  const MetaNode* units =
      child(got.tree, got.tree.find(find_path(got.tree, "/huge"), "%attributes"), "units");
  ASSERT_NE(units, nullptr);
  EXPECT_EQ(units->text, "K");
  EXPECT_LT(us, 500'000);
}

TEST(Hdf5Extractor, MalformedFilesFailCleanlyInAChildProcess) {
  const fs::path dir = corpus_dir() / "malformed";
  ASSERT_TRUE(fs::exists(kExtractTool)) << "build metafs-extract first: " << kExtractTool;
  auto run = [&](const std::string& name, std::string* err) {
    std::string command = "timeout 20 " + shell_quote(kExtractTool.string()) +
                          " --format hdf5 --as tree " + shell_quote((dir / name).string()) + " 2>" +
                          shell_quote((fs::temp_directory_path() / "metafs-hdf5-err").string()) +
                          "; echo \"rc=$?\"";
    std::string out = run_command(command);
    *err = test::read_file(fs::temp_directory_path() / "metafs-hdf5-err");
    std::size_t rc = out.rfind("rc=");
    return rc == std::string::npos ? -1 : std::atoi(out.c_str() + rc + 3);
  };
  std::string err;
  for (const char* name : {"notahdf5file.h5", "gh-4585.h5"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(run(name, &err), 1);
    EXPECT_NE(
        err.find("error: not a readable HDF5 file: unable to open file: file signature not found"),
        std::string::npos)
        << err;
  }
  // The library survives these and shows what it can.
  EXPECT_EQ(run("test_missing_filter.hdf5bad", &err), 0) << err;
  EXPECT_EQ(run("cve-2018-15671.h5", &err), 0) << err;  // h5dump hangs on this one
  // HDF5 1.10.8 itself crashes inside H5Literate / H5Oopen on these two (as h5dump does);
  // the daemon's worker processes turn that into an error entry. Never a hang.
  for (const char* name : {"cve-2018-16438.h5", "cve-2021-46244.h5"}) {
    int rc = run(name, &err);
    EXPECT_NE(rc, 124) << name << " hung";
    EXPECT_TRUE(rc == 1 || rc > 128) << name << " rc=" << rc;
  }
}

TEST(Hdf5Extractor, TruncatedCopiesAreErrorsNotCrashes) {
  ASSERT_TRUE(fs::exists(kExtractTool)) << "build metafs-extract first: " << kExtractTool;
  TempDir dir;
  std::string command =
      "cd " + shell_quote(dir.path().string()) + " && for f in *; do timeout 20 " +
      shell_quote(kExtractTool.string()) +
      " --format hdf5 --as json \"$f\" >/dev/null 2>\"$f.err\"; echo \"$f $?\"; done";
  int copies = 0;
  for (const auto& file : corpus_files("hdf5")) {
    std::string bytes = test::read_file(file);
    for (std::size_t part : {1, 2, 3}) {
      std::ofstream out(dir.path() / (file.filename().string() + "." + std::to_string(part)),
                        std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() * part / 4));
      ++copies;
    }
  }
  std::istringstream results(run_command(command));
  std::string name;
  int rc = -1;
  int checked = 0;
  while (results >> name >> rc) {
    SCOPED_TRACE(name);
    ++checked;
    EXPECT_EQ(rc, 1);
    std::string err = test::read_file(dir.path() / (name + ".err"));
    // Cut before the superblock (a user block file) or after it.
    bool reason =
        err.find("error: not a readable HDF5 file: unable to open file: truncated file") !=
            std::string::npos ||
        err.find(
            "error: not a readable HDF5 file: unable to open file: file signature "
            "not found") != std::string::npos;
    EXPECT_TRUE(reason) << err;
  }
  EXPECT_EQ(checked, copies);
}

TEST(Hdf5Extractor, MissingFilterStillShowsTheDataset) {
  // Safe in-process: the library reads this file's metadata without trouble.
  Extraction got = extract(corpus_dir() / "malformed" / "test_missing_filter.hdf5bad");
  ASSERT_FALSE(got.failed()) << got.error;
  EXPECT_EQ(value_of(got.tree, "/float32", "%shape"), "7, 5");
  EXPECT_EQ(value_of(got.tree, "/float32", "%filters"), "szip coding=nn pixels_per_block=8");
}

TEST(Hdf5Extractor, NotHdf5IsAnError) {
  Extraction got = extract(corpus_dir() / "malformed" / "notahdf5file.h5");
  EXPECT_EQ(got.error, "not a readable HDF5 file: unable to open file: file signature not found");
}

bool has_hdf5_signature(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  static const std::string kSignature = "\x89HDF\r\n\x1a\n";
  for (std::streamoff offset : {0, 512, 1024, 2048}) {
    std::string head(8, '\0');
    in.clear();
    in.seekg(offset);
    if (in.read(head.data(), 8) && head == kSignature) return true;
  }
  return false;
}

// The check on a file opened as the daemon would (a missing file: only its name is known).
bool is_netcdf4(const fs::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  return hdf5_file_is_netcdf4(fd.get(), path);
}

TEST(Hdf5Extractor, NetcdfDetection) {
  // Every HDF5-based file of the netCDF corpus, renamed so that only its content decides,
  // against the rule checked by h5py; with its own .nc name it is always netCDF.
  TempDir dir;
  std::vector<fs::path> renamed;
  for (const auto& file : corpus_files("netcdf")) {
    if (!has_hdf5_signature(file)) continue;
    EXPECT_EQ(is_netcdf4(file), file.extension() != ".h5") << file;
    renamed.push_back(dir.path() / (file.filename().string() + ".h5"));
    fs::copy_file(file, renamed.back());
  }
  ASSERT_GE(renamed.size(), 10u);
  std::string command = "/usr/bin/python3 " + shell_quote(kOracle.string()) + " --netcdf4-rule";
  for (const auto& file : renamed) command += " " + shell_quote(file.string());
  auto oracle = nlohmann::json::parse(run_command(command), nullptr, false);
  ASSERT_TRUE(oracle.is_object());
  int by_content = 0;
  for (const auto& file : renamed) {
    bool want = oracle[file.string()].get<bool>();
    by_content += want ? 1 : 0;
    EXPECT_EQ(is_netcdf4(file), want) << file;
  }
  EXPECT_GE(by_content, 5);
  for (const auto& file : corpus_files("hdf5")) EXPECT_FALSE(is_netcdf4(file)) << file;
  EXPECT_FALSE(is_netcdf4(corpus_dir() / "malformed" / "notahdf5file.h5"));
  EXPECT_TRUE(is_netcdf4("/nonexistent/x.NC"));
}

TEST(Hdf5Extractor, FileKeptOpenByTheNetcdfCheckIsOnlyReusedWhenUnchanged) {
  const fs::path dir = corpus_dir() / "hdf5";
  Extraction plain = extract(dir / "tall.h5");
  ASSERT_FALSE(is_netcdf4(dir / "tall.h5"));
  Extraction after_probe = extract(dir / "tall.h5");
  EXPECT_TRUE(after_probe.tree == plain.tree);
  EXPECT_EQ(after_probe.header, plain.header);

  // The probe of one file never leaks into the extraction of another.
  ASSERT_FALSE(is_netcdf4(dir / "sample.h5"));
  EXPECT_TRUE(extract(dir / "tall.h5").tree == plain.tree);

  // A file replaced between the check and the extraction is read again.
  TempDir scratch;
  fs::path file = scratch.path() / "changing.h5";
  fs::copy_file(dir / "sample.h5", file);
  ASSERT_FALSE(is_netcdf4(file));
  fs::remove(file);
  fs::copy_file(dir / "tall.h5", file);
  Extraction changed = extract(file);
  EXPECT_TRUE(changed.tree == plain.tree);
  std::string header = changed.header;
  header.replace(0, header.find('\n'), "HDF5 \"tall.h5\" {");
  EXPECT_EQ(header, plain.header);
}

TEST(Hdf5Extractor, ReadsOnlyThroughTheDescriptor) {
  const fs::path tall = corpus_dir() / "hdf5" / "tall.h5";
  Extraction want = extract(tall);
  ASSERT_FALSE(want.failed()) << want.error;
  TempDir dir;
  fs::path file = dir.path() / "tall.h5";
  fs::copy_file(tall, file);
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  // Another file under the name: only the descriptor leads to the one to read.
  fs::remove(file);
  fs::copy_file(corpus_dir() / "hdf5" / "sample.h5", file);
  ASSERT_EQ(::lseek(fd, 5, SEEK_SET), 5);

  Extraction got = extract_descriptor(fd, "tall.h5");
  ASSERT_FALSE(got.failed()) << got.error;
  EXPECT_TRUE(got.tree == want.tree);
  EXPECT_EQ(got.header, want.header);
  // The netCDF check keeps the file for the extraction of the same descriptor.
  EXPECT_FALSE(hdf5_file_is_netcdf4(fd, "tall.h5"));
  Extraction kept = extract_descriptor(fd, "tall.h5");
  EXPECT_TRUE(kept.tree == want.tree);
  EXPECT_EQ(kept.header, want.header);
  // The descriptor is borrowed: still open, its offset where the caller left it.
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 5);
  EXPECT_EQ(::close(fd), 0);

  // A descriptor without any name in the filesystem.
  int memory = ::memfd_create("tall", MFD_CLOEXEC);
  ASSERT_GE(memory, 0);
  std::string bytes = test::read_file(tall);
  ASSERT_EQ(::write(memory, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  Extraction unnamed = extract_descriptor(memory, "tall.h5");
  EXPECT_TRUE(unnamed.tree == want.tree);
  EXPECT_EQ(unnamed.header, want.header);
  EXPECT_FALSE(hdf5_file_is_netcdf4(memory, "tall.h5"));
  ::close(memory);
}

TEST(Hdf5Extractor, FilesNamedInTheFileAreNeverOpened) {
  ASSERT_TRUE(fs::exists(kExtractTool)) << "build metafs-extract first: " << kExtractTool;
  TempDir dir;
  const fs::path file = dir.path() / "foreign.h5";
  const fs::path source = dir.path() / "source.h5";
  const fs::path raw = dir.path() / "raw.bin";
  make_with_oracle("--make-foreign", file,
                   shell_quote(source.string()) + " " + shell_quote(raw.string()));
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  Extraction got = extract_descriptor(fd, "foreign.h5");
  ::close(fd);
  ASSERT_FALSE(got.failed()) << got.error;
  EXPECT_EQ(value_of(got.tree, "/ext", "%file"), source.string());
  EXPECT_EQ(value_of(got.tree, "/vds", "%shape"), "10");
  // The library would open the source to size an unlimited virtual dataset: refused, so its
  // extent is what the file alone says.
  EXPECT_EQ(value_of(got.tree, "/vds_unlimited", "%shape"), "0");
  EXPECT_EQ(value_of(got.tree, "/vds_unlimited", "%layout"), "virtual");
  EXPECT_EQ(value_of(got.tree, "/efl", "%external"), raw.string() + " offset=0 size=40");

  // Every open of the whole tool, library included: the file itself, never what it names.
  const fs::path log = dir.path() / "opens.log";
  int status = -1;
  run_command("strace -f -e trace=open,openat,openat2 -o " + shell_quote(log.string()) + " " +
                  shell_quote(kExtractTool.string()) + " --format hdf5 --as json " +
                  shell_quote(file.string()) + " >/dev/null",
              &status);
  ASSERT_EQ(status, 0) << "strace is needed for this test";
  std::string opens = test::read_file(log);
  EXPECT_NE(opens.find(file.string()), std::string::npos) << opens;
  EXPECT_EQ(opens.find(source.filename().string()), std::string::npos) << opens;
  EXPECT_EQ(opens.find(raw.filename().string()), std::string::npos) << opens;
}

TEST(Hdf5Extractor, ConcurrentExtractionsGiveTheSameTrees) {
  auto files = corpus_files("hdf5");
  std::vector<Extraction> serial;
  for (const auto& file : files) serial.push_back(extract(file));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        for (std::size_t i = 0; i < files.size(); ++i) {
          const fs::path& file = files[(i + static_cast<std::size_t>(t)) % files.size()];
          if (is_netcdf4(file)) ++mismatches[static_cast<std::size_t>(t)];
          Extraction got = extract(file);
          const Extraction& want = serial[(i + static_cast<std::size_t>(t)) % files.size()];
          if (!(got.tree == want.tree) || got.header != want.header)
            ++mismatches[static_cast<std::size_t>(t)];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(Hdf5Extractor, ThroughMetafsExtract) {
  ASSERT_TRUE(fs::exists(kExtractTool)) << "build metafs-extract first: " << kExtractTool;
  const fs::path file = corpus_dir() / "hdf5" / "tall.h5";
  int status = -1;
  std::string json = run_command(
      shell_quote(kExtractTool.string()) + " --as json " + shell_quote(file.string()), &status);
  ASSERT_EQ(status, 0);
  auto parsed = nlohmann::json::parse(json, nullptr, false);
  ASSERT_FALSE(parsed.is_discarded());
  EXPECT_EQ(parsed["%attributes"]["attr1"],
            nlohmann::json({97, 98, 99, 100, 101, 102, 103, 104, 105, 0}));
  EXPECT_EQ(parsed["g1"]["g1.1"]["dset1.1.1"]["%shape"], nlohmann::json({10, 10}));
  EXPECT_EQ(parsed["g1"]["g1.1"]["dset1.1.1"]["%dtype"], "H5T_STD_I32BE");
  std::string format = run_command(shell_quote(kExtractTool.string()) + " --as format " +
                                   shell_quote(file.string()));
  EXPECT_EQ(format, "hdf5\n");
  std::string txt =
      run_command(shell_quote(kExtractTool.string()) + " --as txt " + shell_quote(file.string()));
  EXPECT_NE(txt.find("g2/dset2.2/%shape\t3, 5\n"), std::string::npos) << txt;
  std::string header = run_command(shell_quote(kExtractTool.string()) + " --as header " +
                                   shell_quote(file.string()));
  EXPECT_EQ(header, h5dump_header(file));
}

}  // namespace
}  // namespace metafs::extract
