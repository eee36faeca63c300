#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace metafs::query {

// A query that cannot be parsed, with a message naming the offending text.
class QueryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A field path as metadata.txt prints it: names (escaped as in fields/) joined by '/'. A
// segment "*" stands for any one name, "**" for any number of names (none included), and a
// '*' inside a segment for any run of characters within that name ("TELE*").
struct FieldPath {
  std::vector<std::string> segments;

  bool has_glob() const;
  // The segments before the first glob, joined by '/': what an index range starts with.
  std::string literal_prefix() const;
  std::string text() const;
};

// Throws QueryError for an empty path or an empty segment ("a//b", "/a").
FieldPath parse_field_path(std::string_view text);

enum class Op { kExists, kEq, kNe, kLt, kLe, kGt, kGe, kMatch };
std::string_view op_text(Op op);

// One comparison: `PATH?` or `PATH OP VALUE`. For ~, the value is a POSIX extended regular
// expression searched for in the field's text.
struct Expression {
  FieldPath path;
  Op op = Op::kExists;
  std::string value;
  // The value as a number when it is one (see parse_number): numbers compare as numbers.
  std::optional<double> number;

  std::string text() const;
};

// Parses "Modality=MR", "StudyDate>=20240101", "*/TELESCOP~^HST", "PatientID?". The operator
// is the first of = != < <= > >= ~ in the text, or a '?' that ends it. Throws QueryError.
Expression parse_expression(std::string_view text);

// Expressions ANDed; a query is an OR of such groups.
struct Query {
  std::vector<std::vector<Expression>> any_of;
};

// Command-line words: expressions, with "-o" between groups (`A B -o C` = (A and B) or C).
// Throws QueryError for an empty query or an empty group ("-o" first, last or twice).
Query parse_query(const std::vector<std::string>& words);

// A query written as one file name in the mount: expressions joined by '&', "%2F" for '/',
// "%26" for '&', "%25" for '%' (other %HH left as they are: fields/ names keep them). One
// group only. Throws QueryError.
Query parse_query_name(std::string_view name);

// `text` as a number: decimal integers and reals as formats write them ("30", "-1.5e3",
// "2000.", ".5", "+5", "1.5D+03"); std::nullopt for anything else (dates with '-', "NaN",
// hexadecimal, text around a number).
std::optional<double> parse_number(std::string_view text);

}  // namespace metafs::query
