#include "expression.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace metafs::query {
namespace {

bool is_glob(const std::string& segment) {
  return segment.find('*') != std::string::npos;
}

struct FoundOp {
  std::size_t at = std::string_view::npos;
  std::size_t length = 0;
  Op op = Op::kExists;
};

FoundOp find_op(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    char next = i + 1 < text.size() ? text[i + 1] : '\0';
    switch (c) {
      case '=':
        return {i, 1, Op::kEq};
      case '~':
        return {i, 1, Op::kMatch};
      case '!':
        if (next == '=') return {i, 2, Op::kNe};
        break;
      case '<':
        return next == '=' ? FoundOp{i, 2, Op::kLe} : FoundOp{i, 1, Op::kLt};
      case '>':
        return next == '=' ? FoundOp{i, 2, Op::kGe} : FoundOp{i, 1, Op::kGt};
      case '?':
        if (i + 1 == text.size()) return {i, 1, Op::kExists};
        break;
      default:
        break;
    }
  }
  return {};
}

// %2F, %26 and %25 decoded; other escapes are part of fields/ names and stay.
std::string decode_name(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (name[i] == '%' && i + 2 < name.size()) {
      std::string hex{static_cast<char>(std::toupper(static_cast<unsigned char>(name[i + 1]))),
                      static_cast<char>(std::toupper(static_cast<unsigned char>(name[i + 2])))};
      if (hex == "2F" || hex == "26" || hex == "25") {
        out.push_back(hex == "2F" ? '/' : hex == "26" ? '&' : '%');
        i += 2;
        continue;
      }
    }
    out.push_back(name[i]);
  }
  return out;
}

}  // namespace

bool FieldPath::has_glob() const {
  for (const std::string& s : segments) {
    if (is_glob(s)) return true;
  }
  return false;
}

std::string FieldPath::literal_prefix() const {
  std::string out;
  for (const std::string& s : segments) {
    if (is_glob(s)) break;
    if (!out.empty()) out.push_back('/');
    out += s;
  }
  return out;
}

std::string FieldPath::text() const {
  std::string out;
  for (const std::string& s : segments) {
    if (!out.empty()) out.push_back('/');
    out += s;
  }
  return out;
}

FieldPath parse_field_path(std::string_view text) {
  if (text.empty()) throw QueryError("empty field path");
  FieldPath path;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = text.find('/', start);
    std::string_view segment = text.substr(start, slash - start);
    if (segment.empty()) {
      throw QueryError("empty name in field path '" + std::string(text) + "'");
    }
    path.segments.emplace_back(segment);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return path;
}

std::string_view op_text(Op op) {
  switch (op) {
    case Op::kExists:
      return "?";
    case Op::kEq:
      return "=";
    case Op::kNe:
      return "!=";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kMatch:
      return "~";
  }
  return "?";
}

std::string Expression::text() const {
  std::string out = path.text();
  out += op_text(op);
  out += value;
  return out;
}

Expression parse_expression(std::string_view text) {
  FoundOp found = find_op(text);
  if (found.at == std::string_view::npos) {
    throw QueryError("'" + std::string(text) +
                     "' has no operator (one of = != < <= > >= ~, or ? at the end)");
  }
  if (found.at == 0) throw QueryError("'" + std::string(text) + "' has no field path");
  Expression e;
  e.path = parse_field_path(text.substr(0, found.at));
  e.op = found.op;
  e.value = std::string(text.substr(found.at + found.length));
  if (e.op != Op::kExists && e.op != Op::kMatch) e.number = parse_number(e.value);
  return e;
}

Query parse_query(const std::vector<std::string>& words) {
  Query query;
  query.any_of.emplace_back();
  for (const std::string& word : words) {
    if (word == "-o") {
      if (query.any_of.back().empty()) throw QueryError("-o needs an expression on each side");
      query.any_of.emplace_back();
      continue;
    }
    query.any_of.back().push_back(parse_expression(word));
  }
  if (query.any_of.back().empty()) {
    throw QueryError(query.any_of.size() == 1 ? "no expression given"
                                              : "-o needs an expression on each side");
  }
  return query;
}

Query parse_query_name(std::string_view name) {
  Query query;
  query.any_of.emplace_back();
  std::size_t start = 0;
  for (;;) {
    std::size_t amp = name.find('&', start);
    std::string_view part = name.substr(start, amp - start);
    if (part.empty()) throw QueryError("empty expression in '" + std::string(name) + "'");
    query.any_of.back().push_back(parse_expression(decode_name(part)));
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return query;
}

std::optional<double> parse_number(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  std::size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  bool digits = false;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, digits = true;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, digits = true;
  }
  if (!digits) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E' || s[i] == 'd' || s[i] == 'D')) {
    s[i] = 'e';  // FITS writes D exponents
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i == s.size() || !std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  }
  if (i != s.size()) return std::nullopt;
  double value = std::strtod(s.c_str(), nullptr);
  if (!std::isfinite(value)) return std::nullopt;
  return value;
}

}  // namespace metafs::query
