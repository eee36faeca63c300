#include "matcher.hpp"

#include <regex.h>

#include "format.hpp"
#include "render.hpp"

namespace metafs::query {

using extract::MetaNode;
using extract::MetaTree;
using extract::NodeId;

namespace {

// Glob matching with '*' only (any run of characters), iterative with one backtrack point.
bool wildcard(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool match_from(const std::vector<std::string>& segs, std::size_t s,
                const std::vector<std::string_view>& names, std::size_t n) {
  if (s == segs.size()) return n == names.size();
  if (segs[s] == "**") {
    for (std::size_t k = n; k <= names.size(); ++k) {
      if (match_from(segs, s + 1, names, k)) return true;
    }
    return false;
  }
  if (n == names.size()) return false;
  return segment_matches(segs[s], names[n]) && match_from(segs, s + 1, names, n + 1);
}

// Whether outer segment `o` matches everything inner segment `i` can.
bool segment_covers(const std::string& o, const std::string& i) {
  if (o == "*") return i != "**";
  if (o.find('*') == std::string::npos) return o == i;
  // A partial glob covers a literal it matches; for a glob inner, only the same glob.
  return i.find('*') == std::string::npos ? wildcard(o, i) : o == i;
}

bool covers_from(const std::vector<std::string>& outer, std::size_t o,
                 const std::vector<std::string>& inner, std::size_t i) {
  if (o == outer.size()) return i == inner.size();
  if (outer[o] == "**") {
    for (std::size_t k = i; k <= inner.size(); ++k) {
      if (covers_from(outer, o + 1, inner, k)) return true;
    }
    return false;
  }
  if (i == inner.size()) return false;
  return segment_covers(outer[o], inner[i]) && covers_from(outer, o + 1, inner, i + 1);
}

int compare_text(std::string_view a, std::string_view b) {
  return a.compare(b) < 0 ? -1 : a == b ? 0 : 1;
}

struct Walk {
  const MetaTree& tree;
  const FieldPath& path;
  const std::function<bool(const std::string&, std::string_view, bool)>& visit;
  std::vector<std::string_view> names;
  std::string text;
  bool stopped = false;

  // Whether a path starting with `names` can still match (prunes the walk).
  bool may_match() const {
    const auto& segs = path.segments;
    std::size_t n = 0;
    for (std::size_t s = 0; s < segs.size() && n < names.size(); ++s, ++n) {
      if (segs[s] == "**") return true;
      if (!segment_matches(segs[s], names[n])) return false;
    }
    return n == names.size();
  }

  void node(NodeId id) {
    for (NodeId child : tree.node(id).children) {
      if (stopped) return;
      const MetaNode& n = tree.node(child);
      if (n.type == MetaNode::Type::kLink) continue;
      names.push_back(n.name);
      if (may_match()) {
        if (path_matches(path, names)) {
          std::string full;
          for (std::size_t k = 0; k < names.size(); ++k) {
            if (k) full.push_back('/');
            full.append(names[k]);
          }
          if (n.is_dir()) {
            stopped = !visit(full, {}, true);
          } else {
            text.clear();
            extract::append_escaped_value(text, n.text);
            stopped = !visit(full, text, false);
          }
        }
        if (!stopped && n.is_dir()) node(child);
      }
      names.pop_back();
    }
  }
};

}  // namespace

bool segment_matches(std::string_view segment, std::string_view name) {
  if (segment == "*" || segment == "**") return true;
  if (segment.find('*') == std::string_view::npos) return segment == name;
  return wildcard(segment, name);
}

bool path_matches(const FieldPath& path, const std::vector<std::string_view>& names) {
  return match_from(path.segments, 0, names, 0);
}

bool path_covers(const FieldPath& outer, const FieldPath& inner) {
  return covers_from(outer.segments, 0, inner.segments, 0);
}

struct ValueTest::Regex {
  regex_t compiled;
  ~Regex() { ::regfree(&compiled); }
};

ValueTest::ValueTest(const Expression& expression) : expression_(expression), op_(expression.op) {
  if (op_ == Op::kMatch) {
    regex_ = std::make_unique<Regex>();
    int rc = ::regcomp(&regex_->compiled, expression_.value.c_str(), REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
      char message[256];
      ::regerror(rc, &regex_->compiled, message, sizeof message);
      regex_.release();  // regcomp failed: nothing to free
      throw QueryError("bad regular expression '" + expression_.value + "': " + message);
    }
  }
}

ValueTest::~ValueTest() = default;
ValueTest::ValueTest(ValueTest&&) noexcept = default;
ValueTest& ValueTest::operator=(ValueTest&&) noexcept = default;

bool ValueTest::operator()(std::string_view text) const {
  if (op_ == Op::kExists) return true;
  if (op_ == Op::kMatch) {
    std::string copy(text);  // regexec wants a NUL-terminated string
    return ::regexec(&regex_->compiled, copy.c_str(), 0, nullptr, 0) == 0;
  }
  int order;
  std::optional<double> number = expression_.number ? parse_number(text) : std::nullopt;
  if (number) {
    order = *number < *expression_.number ? -1 : *number > *expression_.number ? 1 : 0;
  } else {
    order = compare_text(text, expression_.value);
  }
  switch (op_) {
    case Op::kEq:
      return order == 0;
    case Op::kNe:
      return order != 0;
    case Op::kLt:
      return order < 0;
    case Op::kLe:
      return order <= 0;
    case Op::kGt:
      return order > 0;
    case Op::kGe:
      return order >= 0;
    default:
      return false;
  }
}

void visit_fields(const extract::Extraction& extraction, const FieldPath& path,
                  const std::function<bool(const std::string&, std::string_view, bool)>& visit) {
  const MetaTree& tree = extraction.tree;
  Walk walk{tree, path, visit, {}, {}, false};
  walk.node(MetaTree::kRoot);
  if (walk.stopped) return;
  std::vector<std::string_view> one(1);
  auto pseudo = [&](std::string_view name, std::string_view value) {
    one[0] = name;
    if (!path_matches(path, one) || tree.find(MetaTree::kRoot, name) != MetaTree::kNotFound) {
      return true;
    }
    return visit(std::string(name), printed_value(value), false);
  };
  if (!pseudo(kFormatField, extract::format_name(extraction.format))) return;
  if (extraction.failed()) pseudo(kErrorField, extraction.error);
}

bool matches(const extract::Extraction& extraction, const ValueTest& test) {
  bool found = false;
  visit_fields(extraction, test.expression().path,
               [&](const std::string&, std::string_view value, bool directory) {
                 found = directory ? test.accepts_directory() : test(value);
                 return !found;
               });
  return found;
}

std::string first_value(const extract::Extraction& extraction, const FieldPath& path) {
  std::string out;
  visit_fields(extraction, path, [&](const std::string&, std::string_view value, bool directory) {
    if (directory) return true;
    out = std::string(value);
    return false;
  });
  return out;
}

std::string printed_value(std::string_view value) {
  std::string out;
  extract::append_escaped_value(out, value);
  return out;
}

}  // namespace metafs::query
