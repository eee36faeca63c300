#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "expression.hpp"
#include "extraction.hpp"

namespace metafs::query {

// Whether name `name` matches one segment of a field path ('*' within it: any characters).
bool segment_matches(std::string_view segment, std::string_view name);
// Whether the path `names` (metadata.txt's, split at '/') matches `path` with its globs.
bool path_matches(const FieldPath& path, const std::vector<std::string_view>& names);
// Whether every path `inner` can match is matched by `outer` (so an index of `outer` holds
// every field `inner` asks for). Sound, not complete: may say false for a covered path.
bool path_covers(const FieldPath& outer, const FieldPath& inner);

// The field names the mount's `format` file and the `error` file give: fields of every
// extraction beside its tree (a tree's own node of that name at the root comes first).
inline constexpr std::string_view kFormatField = "format";
inline constexpr std::string_view kErrorField = "error";

// Compiles one expression into a test of field values. Thread-safe to use once built.
class ValueTest {
 public:
  // Throws QueryError for a regular expression that does not compile.
  explicit ValueTest(const Expression& expression);
  ~ValueTest();
  ValueTest(ValueTest&&) noexcept;
  ValueTest& operator=(ValueTest&&) noexcept;

  // `text` is the value as metadata.txt prints it. Numbers compare as numbers when both the
  // value and the operand are numbers; otherwise as text (bytes).
  bool operator()(std::string_view text) const;
  // A directory (no value) satisfies only '?'.
  bool accepts_directory() const { return op_ == Op::kExists; }
  const Expression& expression() const { return expression_; }

 private:
  Expression expression_;
  Op op_;
  struct Regex;
  std::unique_ptr<Regex> regex_;
};

// Calls `visit(path, value, is_directory)` for every node of the extraction's tree (values
// as metadata.txt prints them, escaped) whose path matches `path`, plus the pseudo-fields
// `format` and `error` (when it failed). Links are skipped (aliases). Stops when visit
// returns false.
void visit_fields(const extract::Extraction& extraction, const FieldPath& path,
                  const std::function<bool(const std::string& path, std::string_view value,
                                           bool directory)>& visit);

// Whether some field of `extraction` satisfies `test`.
bool matches(const extract::Extraction& extraction, const ValueTest& test);

// The first value (metadata.txt form) of a field path in `extraction`; "" when absent.
std::string first_value(const extract::Extraction& extraction, const FieldPath& path);

// The text of `value` with control characters escaped as metadata.txt does.
std::string printed_value(std::string_view value);

}  // namespace metafs::query
