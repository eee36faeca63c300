#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "meta_tree.hpp"

namespace metafs::extract {

// metadata.txt: one line per value, "<path under fields/>\t<escaped value>\n", in tree order.
// Links are aliases and are not repeated.
std::string render_txt(const MetaTree& tree);

// metadata.json: the tree as one JSON object (directories are objects; values strings,
// numbers, booleans or arrays), always valid JSON (invalid UTF-8 becomes U+FFFD).
std::string render_json(const MetaTree& tree);

// The bytes of a value's own file under fields/: the value and a newline.
std::string render_value_file(const MetaNode& node);

// Control characters as \n, \t, \r or \xHH; everything else, backslashes included, as is.
void append_escaped_value(std::string& out, std::string_view value);

// `value` as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view value);

// True when `text` is a number in JSON's grammar (so it can be written unquoted).
bool is_json_number(std::string_view text);

// A number as formats write it ("2000.", ".5", "+5", "003", "1.5D+03") in JSON's grammar
// ("2000.0", "0.5", "5", "3", "1.5E03"); std::nullopt when it is not a number at all.
std::optional<std::string> normalize_number(std::string_view text);

}  // namespace metafs::extract
