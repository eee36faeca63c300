#include <gtest/gtest.h>

#include "expression.hpp"
#include "field_index.hpp"
#include "matcher.hpp"

namespace metafs::query {
namespace {

using extract::Extraction;
using extract::Format;
using extract::MetaTree;
using extract::ValueKind;

Extraction sample() {
  Extraction x;
  x.format = Format::kNetcdf;
  MetaTree& t = x.tree;
  t.add_value(MetaTree::kRoot, "format_variant", "classic");
  auto attrs = t.dir(MetaTree::kRoot, "attributes");
  t.add_value(attrs, "title", "Surface temperature");
  t.add_value(attrs, "history", "line one\nline two");
  auto vars = t.dir(MetaTree::kRoot, "variables");
  auto tas = t.dir(vars, "tas");
  t.add_value(t.dir(tas, "attributes"), "units", "K");
  t.add_value(t.dir(tas, "attributes"), "valid_max", "330.0", ValueKind::kNumber);
  auto pr = t.dir(vars, "pr");
  t.add_value(t.dir(pr, "attributes"), "units", "kg m-2 s-1");
  t.add_value(MetaTree::kRoot, "a/b", "slash in a name");  // stored as a%2Fb
  return x;
}

bool match(const Extraction& x, const std::string& text) {
  return matches(x, ValueTest(parse_expression(text)));
}

TEST(QueryExpression, ParsesEveryOperator) {
  struct Case {
    const char* text;
    Op op;
    const char* path;
    const char* value;
  } cases[] = {{"Modality=MR", Op::kEq, "Modality", "MR"},
               {"Modality!=MR", Op::kNe, "Modality", "MR"},
               {"StudyDate<20240101", Op::kLt, "StudyDate", "20240101"},
               {"StudyDate<=20240101", Op::kLe, "StudyDate", "20240101"},
               {"StudyDate>20240101", Op::kGt, "StudyDate", "20240101"},
               {"StudyDate>=20240101", Op::kGe, "StudyDate", "20240101"},
               {"*/TELESCOP~^HST", Op::kMatch, "*/TELESCOP", "^HST"},
               {"PatientID?", Op::kExists, "PatientID", ""},
               {"x=a=b", Op::kEq, "x", "a=b"},
               {"x~a?b", Op::kMatch, "x", "a?b"}};
  for (const Case& c : cases) {
    Expression e = parse_expression(c.text);
    EXPECT_EQ(e.op, c.op) << c.text;
    EXPECT_EQ(e.path.text(), c.path) << c.text;
    EXPECT_EQ(e.value, c.value) << c.text;
    EXPECT_EQ(e.text(), c.text);
  }
  EXPECT_TRUE(parse_expression("EXPTIME>=30").number.has_value());
  EXPECT_FALSE(parse_expression("StudyDate=2024-01-01").number.has_value());
}

TEST(QueryExpression, RefusesWhatIsNotAnExpression) {
  for (const char* bad : {"Modality", "=MR", "a//b=1", "/a=1", "a/=1", "x!y"}) {
    EXPECT_THROW(parse_expression(bad), QueryError) << bad;
  }
  EXPECT_THROW(ValueTest(parse_expression("x~(")), QueryError);
  EXPECT_THROW(parse_query({}), QueryError);
  EXPECT_THROW(parse_query({"-o", "a=1"}), QueryError);
  EXPECT_THROW(parse_query({"a=1", "-o"}), QueryError);
  EXPECT_THROW(parse_query({"a=1", "-o", "-o", "b=1"}), QueryError);
}

TEST(QueryExpression, GroupsAndAndOr) {
  Query q = parse_query({"a=1", "b=2", "-o", "c?"});
  ASSERT_EQ(q.any_of.size(), 2u);
  EXPECT_EQ(q.any_of[0].size(), 2u);
  EXPECT_EQ(q.any_of[1][0].op, Op::kExists);
}

TEST(QueryExpression, MountNamesDecodeSlashAmpersandPercent) {
  Query q = parse_query_name("*%2FTELESCOP~^HST&variables%2Ftas%2Fattributes%2Funits=K&a%252Fb?");
  ASSERT_EQ(q.any_of.size(), 1u);
  ASSERT_EQ(q.any_of[0].size(), 3u);
  EXPECT_EQ(q.any_of[0][0].path.text(), "*/TELESCOP");
  EXPECT_EQ(q.any_of[0][1].path.segments.size(), 4u);
  EXPECT_EQ(q.any_of[0][2].path.text(), "a%2Fb");
  EXPECT_EQ(parse_query_name("x=a%26b").any_of[0][0].value, "a&b");
  EXPECT_EQ(parse_query_name("x=%41").any_of[0][0].value, "%41");
  EXPECT_THROW(parse_query_name("a=1&&b=2"), QueryError);
}

TEST(QueryExpression, NumbersAsFormatsWriteThem) {
  EXPECT_EQ(parse_number("30"), 30.0);
  EXPECT_EQ(parse_number("-1.5e3"), -1500.0);
  EXPECT_EQ(parse_number("2000."), 2000.0);
  EXPECT_EQ(parse_number(".5"), 0.5);
  EXPECT_EQ(parse_number("+5"), 5.0);
  EXPECT_EQ(parse_number("1.5D+03"), 1500.0);
  for (const char* no : {"", "-", ".", "1e", "2024-01-01", "NaN", "inf", "0x10", " 1", "1 ", "K"}) {
    EXPECT_FALSE(parse_number(no).has_value()) << no;
  }
}

TEST(QueryMatcher, NumbersCompareAsNumbersTextAsText) {
  Extraction x = sample();
  EXPECT_TRUE(match(x, "variables/tas/attributes/valid_max=330"));
  EXPECT_TRUE(match(x, "variables/tas/attributes/valid_max>99"));  // as text "330.0" < "99"
  EXPECT_FALSE(match(x, "variables/tas/attributes/valid_max<99"));
  EXPECT_TRUE(match(x, "variables/tas/attributes/valid_max<=330.0"));
  EXPECT_TRUE(match(x, "variables/tas/attributes/valid_max>=3.3e2"));
  EXPECT_FALSE(match(x, "variables/tas/attributes/valid_max>330"));
  EXPECT_TRUE(match(x, "variables/tas/attributes/units<L"));  // text
  EXPECT_TRUE(match(x, "variables/tas/attributes/units>J"));
  EXPECT_TRUE(match(x, "variables/tas/attributes/units!=k"));
  EXPECT_FALSE(match(x, "variables/tas/attributes/units!=K"));
  EXPECT_FALSE(match(x, "missing!=K"));  // a missing field satisfies no comparison
}

TEST(QueryMatcher, GlobsOneAndManySegments) {
  Extraction x = sample();
  EXPECT_TRUE(match(x, "variables/*/attributes/units=K"));
  EXPECT_TRUE(match(x, "**/units=K"));
  EXPECT_TRUE(match(x, "**/units~^kg"));
  EXPECT_FALSE(match(x, "*/units=K"));
  EXPECT_TRUE(match(x, "variables/**/units=K"));
  EXPECT_TRUE(match(x, "**/format_variant=classic"));  // ** may be no segment at all
  EXPECT_TRUE(match(x, "attributes/ti*=Surface temperature"));
  EXPECT_FALSE(match(x, "attributes/ti=Surface temperature"));
  EXPECT_TRUE(match(x, "variables/tas?"));  // a directory exists
  EXPECT_FALSE(match(x, "variables/tas=x"));
  EXPECT_TRUE(match(x, "a%2Fb=slash in a name"));
  EXPECT_TRUE(match(x, "attributes/history=line one\\nline two"));  // metadata.txt's escape
  EXPECT_TRUE(match(x, "format=netcdf"));
  EXPECT_FALSE(match(x, "error?"));
  x.error = "truncated";
  EXPECT_TRUE(match(x, "error~trunc"));
}

TEST(QueryMatcher, CoverageOfGlobs) {
  auto covers = [](const char* outer, const char* inner) {
    return path_covers(parse_field_path(outer), parse_field_path(inner));
  };
  EXPECT_TRUE(covers("*/OBJECT", "0/OBJECT"));
  EXPECT_TRUE(covers("*/OBJECT", "*/OBJECT"));
  EXPECT_FALSE(covers("*/OBJECT", "**/OBJECT"));
  EXPECT_TRUE(covers("**/units", "variables/*/attributes/units"));
  EXPECT_FALSE(covers("variables/*/attributes/units", "**/units"));
  EXPECT_TRUE(covers("attributes/*", "attributes/ti*"));
  EXPECT_FALSE(covers("attributes/ti*", "attributes/*"));
  EXPECT_FALSE(covers("Modality", "Modalities"));
  IndexFields d = default_index_fields();
  EXPECT_TRUE(d.covers(parse_field_path("Modality")));
  EXPECT_TRUE(d.covers(parse_field_path("*/TELESCOP")));
  EXPECT_FALSE(d.covers(parse_field_path("**/units")));
  EXPECT_FALSE(d.covers(parse_field_path("Rows")));
}

TEST(QueryIndex, TermsAreMetadataTxtLines) {
  Extraction x = sample();
  std::vector<std::string> terms;
  index_terms(parse_index_fields("default,a%2Fb"), x, &terms);
  std::vector<std::string> want = {"a%2Fb\tslash in a name",
                                   "attributes/history\tline one\\nline two",
                                   "attributes/title\tSurface temperature",
                                   "format\tnetcdf",
                                   "format_variant\tclassic",
                                   "variables/pr/\t",
                                   "variables/pr/attributes/units\tkg m-2 s-1",
                                   "variables/tas/\t",
                                   "variables/tas/attributes/units\tK"};
  EXPECT_EQ(terms, want);
  Term t;
  ASSERT_TRUE(parse_term(terms[5], &t));
  EXPECT_TRUE(t.directory);
  EXPECT_EQ(t.path, "variables/pr");
  ASSERT_TRUE(parse_term(terms[8], &t));
  EXPECT_FALSE(t.directory);
  EXPECT_EQ(t.value, "K");
  EXPECT_THROW(parse_index_fields(",,"), QueryError);
  EXPECT_NE(default_index_fields().fingerprint(), parse_index_fields("Modality").fingerprint());
}

TEST(QueryIndex, LongValuesAreCut) {
  Extraction x;
  x.tree.add_value(MetaTree::kRoot, "PatientID", std::string(1000, 'x'));
  std::vector<std::string> terms;
  index_terms(default_index_fields(), x, &terms);
  ASSERT_EQ(terms.size(), 2u);  // PatientID and format
  EXPECT_EQ(terms[0].size(), kMaxTermBytes);
  Term t;
  ASSERT_TRUE(parse_term(terms[0], &t));
  EXPECT_TRUE(t.truncated);
}

}  // namespace
}  // namespace metafs::query
