// The format-neutral tree and its renderings: names, escaping, metadata.txt, metadata.json.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "meta_tree.hpp"
#include "render.hpp"

namespace {

using metafs::extract::escape_name;
using metafs::extract::MetaTree;
using metafs::extract::render_json;
using metafs::extract::render_txt;
using metafs::extract::ValueKind;
using metafs::extract::Verbatim;

TEST(MetaTree, NamesAreEscapedIntoSafeUniqueFileNames) {
  EXPECT_EQ(escape_name("PatientName"), "PatientName");
  EXPECT_EQ(escape_name("a/b"), "a%2Fb");
  EXPECT_EQ(escape_name("100%"), "100%25");
  EXPECT_EQ(escape_name("#1"), "%231");
  EXPECT_EQ(escape_name(""), "%00");
  EXPECT_EQ(escape_name("."), "%2E");
  EXPECT_EQ(escape_name(".."), "%2E%2E");
  EXPECT_EQ(escape_name("tab\there"), "tab%09here");
  EXPECT_EQ(escape_name("ESO DET CHIP"), "ESO DET CHIP");
  EXPECT_EQ(escape_name("Ünïcode"), "Ünïcode");

  MetaTree tree;
  auto a = tree.add_value(MetaTree::kRoot, "HISTORY", "one");
  auto b = tree.add_value(MetaTree::kRoot, "HISTORY", "two");
  auto c = tree.add_value(MetaTree::kRoot, "HISTORY", "three");
  EXPECT_EQ(tree.node(a).name, "HISTORY");
  EXPECT_EQ(tree.node(b).name, "HISTORY#2");
  EXPECT_EQ(tree.node(c).name, "HISTORY#3");
  EXPECT_EQ(tree.find(MetaTree::kRoot, "HISTORY#2"), b);
  EXPECT_EQ(tree.find(MetaTree::kRoot, "nope"), MetaTree::kNotFound);
}

TEST(MetaTree, DirLookupCreatesOnceAndPathsJoinNames) {
  MetaTree tree;
  auto seq = tree.dir(MetaTree::kRoot, "Seq");
  EXPECT_EQ(tree.dir(MetaTree::kRoot, "Seq"), seq);
  auto item = tree.add_dir(seq, "0");
  auto leaf = tree.add_value(item, "Code", "T-1");
  EXPECT_EQ(tree.path(leaf), "Seq/0/Code");
  auto reserved = tree.add_value(item, Verbatim{"#type"}, "group");
  EXPECT_EQ(tree.node(reserved).name, "#type");
  EXPECT_EQ(tree.value_count(), 2u);
}

TEST(Render, TxtHasOneEscapedLinePerValueAndSkipsLinks) {
  MetaTree tree;
  tree.add_value(MetaTree::kRoot, "ImageType", "ORIGINAL\\PRIMARY\\AXIAL");
  auto hdu = tree.add_dir(MetaTree::kRoot, "0");
  tree.add_value(hdu, "COMMENT", "line one\nline two\ttabbed\r\x01");
  tree.add_value(hdu, "NAXIS", "2", ValueKind::kNumber);
  tree.add_link(MetaTree::kRoot, "PRIMARY", "0");
  EXPECT_EQ(render_txt(tree),
            "ImageType\tORIGINAL\\PRIMARY\\AXIAL\n"
            "0/COMMENT\tline one\\nline two\\ttabbed\\r\\x01\n"
            "0/NAXIS\t2\n");
}

TEST(Render, JsonIsValidAndTyped) {
  MetaTree tree;
  tree.add_value(MetaTree::kRoot, "PatientID", "12345");
  tree.add_value(MetaTree::kRoot, "Rows", "512", ValueKind::kNumber);
  tree.add_value(MetaTree::kRoot, "EQUINOX", "2000.", ValueKind::kNumber);
  tree.add_value(MetaTree::kRoot, "EXPO", "1.5D+03", ValueKind::kNumber);
  tree.add_value(MetaTree::kRoot, "HALF", ".5", ValueKind::kNumber);
  tree.add_value(MetaTree::kRoot, "NotANumber", "NaN", ValueKind::kNumber);
  tree.add_value(MetaTree::kRoot, "SIMPLE", "T", ValueKind::kBoolean);
  tree.add_list(MetaTree::kRoot, "PixelSpacing", {"0.5", "0.25"}, ValueKind::kNumber, "\\");
  tree.add_value(MetaTree::kRoot, "Bad", std::string("\xff\xfe quote\" back\\slash \x01"));
  auto dir = tree.add_dir(MetaTree::kRoot, "Seq");
  tree.add_value(dir, "Code", "X");
  tree.add_link(MetaTree::kRoot, "Alias", "Seq");

  std::string text = render_json(tree);
  nlohmann::json json = nlohmann::json::parse(text);  // throws on invalid JSON or UTF-8
  EXPECT_EQ(json["PatientID"], "12345");
  EXPECT_EQ(json["Rows"], 512);
  EXPECT_EQ(json["EQUINOX"], 2000.0);
  EXPECT_EQ(json["EXPO"], 1500.0);
  EXPECT_EQ(json["HALF"], 0.5);
  EXPECT_EQ(json["NotANumber"], "NaN");
  EXPECT_EQ(json["SIMPLE"], true);
  EXPECT_EQ(json["PixelSpacing"], nlohmann::json::array({0.5, 0.25}));
  EXPECT_EQ(json["Bad"].get<std::string>(),
            std::string("\xef\xbf\xbd\xef\xbf\xbd quote\" back\\slash \x01"));
  EXPECT_EQ(json["Seq"]["Code"], "X");
  EXPECT_FALSE(json.contains("Alias"));
}

TEST(Render, NumbersInJsonGrammar) {
  using metafs::extract::is_json_number;
  using metafs::extract::normalize_number;
  EXPECT_TRUE(is_json_number("-0.5e+10"));
  EXPECT_FALSE(is_json_number("01"));
  EXPECT_FALSE(is_json_number("1."));
  EXPECT_EQ(normalize_number("+5"), "5");
  EXPECT_EQ(normalize_number("003"), "3");
  EXPECT_EQ(normalize_number("-.25"), "-0.25");
  EXPECT_EQ(normalize_number("1.0D-05"), "1.0E-05");
  EXPECT_EQ(normalize_number("abc"), std::nullopt);
  EXPECT_EQ(normalize_number("1e"), std::nullopt);
}

// A value with nothing to escape is appended whole, any other goes byte by byte: one byte to
// escape at any place in a value, each byte class, gives the same text as the rule says.
TEST(Render, OneByteToEscapeAnywhereInAValueIsEscapedThere) {
  using metafs::extract::append_escaped_value;
  using metafs::extract::append_json_string;
  struct Case {
    char byte;
    const char* txt;
    const char* json;
  };
  const std::string plain(70, 'v');
  for (const Case& c :
       {Case{'\x01', "\\x01", "\\u0001"}, Case{'\x7f', "\\x7f", "\\u007f"},
        Case{'\n', "\\n", "\\n"}, Case{'"', "\"", "\\\""}, Case{'\\', "\\", "\\\\"}}) {
    for (std::size_t at = 0; at <= plain.size(); ++at) {
      std::string value = plain.substr(0, at) + c.byte + plain.substr(at);
      std::string txt;
      append_escaped_value(txt, value);
      EXPECT_EQ(txt, plain.substr(0, at) + c.txt + plain.substr(at)) << int(c.byte) << " at " << at;
      std::string json;
      append_json_string(json, value);
      EXPECT_EQ(json, "\"" + plain.substr(0, at) + c.json + plain.substr(at) + "\"")
          << int(c.byte) << " at " << at;
      EXPECT_EQ(nlohmann::json::parse(json), value);
    }
  }
  std::string txt;
  append_escaped_value(txt, plain);
  EXPECT_EQ(txt, plain);
}

}  // namespace
