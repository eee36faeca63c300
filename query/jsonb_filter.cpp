#include "jsonb_filter.hpp"

#include "render.hpp"

namespace metafs::query {
namespace {

// A name that is the same in fields/, metadata.txt and metadata.json's keys (no escapes).
bool plain_name(const std::string& name) {
  if (name.empty() || name == "*" || name == "**") return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '%' || c == '*' || c == '\\' || c == '"') return false;
  }
  return true;
}

// A value metadata.txt prints as metadata.json holds it: no escapes, and none of the
// separators a list's items are joined with (MetaTree::add_list: ", ", "; ", "\\", "\n"), so
// the file's value is one string or a one-item list.
bool plain_value(const std::string& value) {
  if (value.empty() || value.find(", ") != std::string::npos ||
      value.find("; ") != std::string::npos) {
    return false;
  }
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '\\') return false;
  }
  return true;
}

// `leaf` (JSON) at `path` as nested objects: {"A":{"B":leaf}}.
std::string nested(const FieldPath& path, const std::string& leaf) {
  std::string out;
  for (const std::string& name : path.segments) {
    out += '{';
    extract::append_json_string(out, name);
    out += ':';
  }
  out += leaf;
  out.append(path.segments.size(), '}');
  return out;
}

std::string sql_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// The condition of one expression, or "" when it adds none.
std::string condition(const Expression& e) {
  if (e.op != Op::kEq || e.path.has_glob() || !plain_value(e.value)) return {};
  for (const std::string& name : e.path.segments) {
    if (!plain_name(name)) return {};
  }
  // The pseudo-fields format and error are columns, not fields of the tree.
  if (e.path.segments.size() == 1 &&
      (e.path.segments[0] == "format" || e.path.segments[0] == "error")) {
    return {};
  }
  // Numbers compare as numbers ("0512" = 512), which jsonb containment does not: no condition.
  if (e.number) return {};
  std::string leaf;
  extract::append_json_string(leaf, e.value);
  std::string out;
  for (const std::string& variant : {leaf, "[" + leaf + "]"}) {
    if (!out.empty()) out += " OR ";
    out += "fields @> " + sql_quoted(nested(e.path, variant)) + "::jsonb";
  }
  return "(" + out + ")";
}

}  // namespace

std::string jsonb_prefilter(const Query& query) {
  std::string any;
  for (const auto& group : query.any_of) {
    std::string all;
    for (const Expression& e : group) {
      std::string c = condition(e);
      if (c.empty()) continue;
      if (!all.empty()) all += " AND ";
      all += c;
    }
    if (all.empty()) return "true";
    if (!any.empty()) any += " OR ";
    any += "(" + all + ")";
  }
  return any.empty() ? "true" : any;
}

}  // namespace metafs::query
