#include "render.hpp"

#include <cstdint>
#include <optional>

#include "byte_scan.hpp"

namespace metafs::extract {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len;
  std::uint32_t min;
  if (b0 < 0x80) return 1;
  if ((b0 & 0xe0) == 0xc0) {
    len = 2;
    min = 0x80;
  } else if ((b0 & 0xf0) == 0xe0) {
    len = 3;
    min = 0x800;
  } else if ((b0 & 0xf8) == 0xf0) {
    len = 4;
    min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  std::uint32_t cp = b0 & (0x7f >> len);
  for (std::size_t k = 1; k < len; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

void append_json_scalar(std::string& out, std::string_view text, ValueKind kind) {
  switch (kind) {
    case ValueKind::kNumber:
      if (is_json_number(text)) {
        out.append(text);
        return;
      }
      if (auto normal = normalize_number(text)) {
        out.append(*normal);
        return;
      }
      break;
    case ValueKind::kBoolean:
      if (text == "T" || text == "true" || text == "TRUE" || text == "1") {
        out.append("true");
        return;
      }
      if (text == "F" || text == "false" || text == "FALSE" || text == "0") {
        out.append("false");
        return;
      }
      break;
    case ValueKind::kString:
      break;
  }
  append_json_string(out, text);
}

void append_json_node(std::string& out, const MetaTree& tree, NodeId id) {
  const MetaNode& node = tree.node(id);
  if (node.is_dir()) {
    out.push_back('{');
    bool first = true;
    for (NodeId child : node.children) {
      if (tree.node(child).type == MetaNode::Type::kLink) continue;
      if (!first) out.push_back(',');
      first = false;
      append_json_string(out, tree.node(child).name);
      out.push_back(':');
      append_json_node(out, tree, child);
    }
    out.push_back('}');
  } else if (node.list) {
    out.push_back('[');
    for (std::size_t i = 0; i < node.items.size(); ++i) {
      if (i != 0) out.push_back(',');
      append_json_scalar(out, node.items[i], node.kind);
    }
    out.push_back(']');
  } else {
    append_json_scalar(out, node.text, node.kind);
  }
}

void append_txt_node(std::string& out, const MetaTree& tree, NodeId id, std::string& path) {
  for (NodeId child : tree.node(id).children) {
    const MetaNode& node = tree.node(child);
    std::size_t keep = path.size();
    if (!path.empty()) path.push_back('/');
    path.append(node.name);
    if (node.is_dir()) {
      append_txt_node(out, tree, child, path);
    } else if (node.type == MetaNode::Type::kValue) {
      out.append(path);
      out.push_back('\t');
      append_escaped_value(out, node.text);
      out.push_back('\n');
    }
    path.resize(keep);
  }
}

// Roughly the bytes a rendering takes (names, values and a few bytes of syntax per node),
// so the output grows once or twice instead of a dozen times.
std::size_t rendered_size_hint(const MetaTree& tree) {
  std::size_t bytes = 16;
  for (const MetaNode& node : tree.nodes()) {
    bytes += node.name.size() + node.text.size() + 6 + 3 * node.items.size();
  }
  return bytes + bytes / 4;
}

}  // namespace

void append_escaped_value(std::string& out, std::string_view value) {
  if (!any_byte(value, [](unsigned char byte) { return (byte < 0x20) | (byte == 0x7f); })) {
    out.append(value);
    return;
  }
  std::size_t i = 0;
  while (i < value.size()) {
    // Runs of printable bytes are appended whole.
    std::size_t run = i;
    while (run < value.size()) {
      auto byte = static_cast<unsigned char>(value[run]);
      if (byte < 0x20 || byte == 0x7f) break;
      ++run;
    }
    out.append(value.data() + i, run - i);
    if (run == value.size()) return;
    auto byte = static_cast<unsigned char>(value[run]);
    if (byte == '\n') {
      out.append("\\n");
    } else if (byte == '\t') {
      out.append("\\t");
    } else if (byte == '\r') {
      out.append("\\r");
    } else {
      char hex[4] = {'\\', 'x', kHex[byte >> 4], kHex[byte & 0xf]};
      out.append(hex, 4);
    }
    i = run + 1;
  }
}

void append_json_string(std::string& out, std::string_view value) {
  out.push_back('"');
  if (!any_byte(value, [](unsigned char byte) {
        return (byte < 0x20) | (byte >= 0x7f) | (byte == '"') | (byte == '\\');
      })) {
    out.append(value);
    out.push_back('"');
    return;
  }
  for (std::size_t i = 0; i < value.size();) {
    // Runs of bytes JSON takes as they are (printable ASCII but the quote and the
    // backslash) are appended whole.
    std::size_t run = i;
    while (run < value.size()) {
      auto byte = static_cast<unsigned char>(value[run]);
      if (byte < 0x20 || byte >= 0x7f || byte == '"' || byte == '\\') break;
      ++run;
    }
    if (run != i) {
      out.append(value.data() + i, run - i);
      i = run;
      if (i == value.size()) break;
    }
    auto byte = static_cast<unsigned char>(value[i]);
    if (byte >= 0x80) {
      std::size_t len = utf8_sequence_length(value, i);
      if (len == 0) {
        out.append("\\ufffd");
        ++i;
      } else {
        out.append(value.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (byte) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\r':
        out.append("\\r");
        break;
      default: {
        char hex[6] = {'\\', 'u', '0', '0', kHex[byte >> 4], kHex[byte & 0xf]};
        out.append(hex, 6);
      }
    }
    ++i;
  }
  out.push_back('"');
}

// Works on views of `text` and builds the result once (it runs for every number value of
// every metadata.json).
std::optional<std::string> normalize_number(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  bool negative = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  // Split mantissa and exponent (D: Fortran's double exponent); give the mantissa digits on
  // both sides of its point. Any further letter makes the result fail is_json_number below.
  std::string_view exponent;
  bool has_exponent = false;
  if (auto e = s.find_first_of("eEdD"); e != std::string_view::npos) {
    has_exponent = true;
    exponent = s.substr(e + 1);
    s = s.substr(0, e);
    if (!exponent.empty() && exponent[0] == '+') exponent.remove_prefix(1);
    if (exponent.empty()) return std::nullopt;
  }
  std::string_view integer = s, fraction;
  bool has_point = false;
  if (auto dot = s.find('.'); dot != std::string_view::npos) {
    has_point = true;
    integer = s.substr(0, dot);
    fraction = s.substr(dot + 1);
  }
  while (integer.size() > 1 && integer[0] == '0') integer.remove_prefix(1);
  std::string out;
  out.reserve(text.size() + 4);
  if (negative) out.push_back('-');
  out.append(integer.empty() ? std::string_view("0") : integer);
  if (has_point) {
    out.push_back('.');
    out.append(fraction.empty() ? std::string_view("0") : fraction);
  }
  if (has_exponent) {
    out.push_back('E');
    out.append(exponent);
  }
  if (!is_json_number(out)) return std::nullopt;
  return out;
}

bool is_json_number(std::string_view s) {
  std::size_t i = 0;
  auto digit = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  if (i < s.size() && s[i] == '-') ++i;
  if (!digit(i)) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (digit(i)) ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i)) ++i;
  }
  return i == s.size();
}

std::string render_txt(const MetaTree& tree) {
  std::string out;
  out.reserve(rendered_size_hint(tree));
  std::string path;
  append_txt_node(out, tree, MetaTree::kRoot, path);
  return out;
}

std::string render_json(const MetaTree& tree) {
  std::string out;
  out.reserve(rendered_size_hint(tree));
  append_json_node(out, tree, MetaTree::kRoot);
  out.push_back('\n');
  return out;
}

std::string render_value_file(const MetaNode& node) {
  std::string out;
  out.reserve(node.text.size() + 1);
  out.append(node.text);
  out.push_back('\n');
  return out;
}

}  // namespace metafs::extract
