#include "dicom/dicom_json.hpp"

#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvr.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <vector>

#include "dicom/dicom_fields.hpp"
#include "dicom/dicom_item.hpp"
#include "dicom/dicom_names.hpp"
#include "dicom/dicom_text.hpp"
#include "dicom/dicom_value.hpp"
#include "render.hpp"

namespace metafs::extract::dicom {
namespace {

// Only for strings that are not UTF-8, and for its float spelling: dicom.json is written as
// nlohmann's dump(2) of a DOM wrote it (see JsonWriter).
using Json = nlohmann::json;

// Most files' dicom.json and header.txt are a few KiB: room for them from the start.
constexpr std::size_t kTypicalSize = 16 * 1024;

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    std::uint32_t n = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16 |
                      std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8 |
                      static_cast<unsigned char>(bytes[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(n >> shift) & 63];
  }
  if (std::size_t rest = bytes.size() - i; rest > 0) {
    std::uint32_t n = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (rest == 2) n |= std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += rest == 2 ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// nlohmann's dump(2) of the DOM this file used to build, written directly (the DOM cost a
// map per element): the same layout, escapes and number spellings, so dicom.json is unchanged.
class JsonWriter {
 public:
  // `depth`: the objects and arrays around what this writer writes first.
  JsonWriter(std::string& out, std::size_t depth) : out_(out), depth_(depth) {}

  void string(std::string_view text) {
    if (!is_valid_utf8(text)) {
      // nlohmann's replacement of invalid bytes, exactly (values are UTF-8 by now; kept safe).
      out_ += Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
      return;
    }
    out_.push_back('"');
    std::size_t plain = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      auto c = static_cast<unsigned char>(text[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(text.substr(plain, i - plain));
      plain = i + 1;
      switch (c) {
        case '"':
          out_ += "\\\"";
          break;
        case '\\':
          out_ += "\\\\";
          break;
        case '\b':
          out_ += "\\b";
          break;
        case '\t':
          out_ += "\\t";
          break;
        case '\n':
          out_ += "\\n";
          break;
        case '\f':
          out_ += "\\f";
          break;
        case '\r':
          out_ += "\\r";
          break;
        default: {
          static constexpr char kHex[] = "0123456789abcdef";
          out_ += "\\u00";
          out_.push_back(kHex[c >> 4]);
          out_.push_back(kHex[c & 15]);
        }
      }
    }
    out_.append(text.substr(plain));
    out_.push_back('"');
  }

  template <typename T>
  void integer(T value) {
    char buffer[24];
    out_.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr);
  }

  void number(double value) {
    char buffer[64];
    out_.append(buffer, nlohmann::detail::to_chars(buffer, buffer + sizeof buffer, value));
  }

  void null() { out_ += "null"; }

  // Objects and arrays: open, then key()/element() before each member, then close(). Empty
  // ones are "{}" and "[]", as nlohmann writes them. Each piece is appended whole (a line's
  // break and indentation, a key with its quotes): a few appends per attribute, not dozens.
  void open(char bracket) {
    out_.push_back(bracket);
    first_[open_++] = true;
  }
  void key(std::string_view name) {
    element();
    char quoted[kMaxShortKey + 4];
    if (name.size() > kMaxShortKey) {
      out_.push_back('"');
      out_ += name;
      out_ += "\": ";
      return;
    }
    quoted[0] = '"';
    std::memcpy(quoted + 1, name.data(), name.size());
    std::memcpy(quoted + 1 + name.size(), "\": ", 3);
    out_.append(quoted, name.size() + 4);
  }
  void element() {
    bool first = first_[open_ - 1];
    first_[open_ - 1] = false;
    line_break(!first, 2 * (depth_ + open_));
  }
  void close(char bracket) {
    bool empty = first_[--open_];
    if (!empty) line_break(false, 2 * (depth_ + open_));
    out_.push_back(bracket);
  }

 private:
  static constexpr std::size_t kMaxShortKey = 28;
  // A comma (if `comma`), a line break and `indent` spaces, in one append.
  void line_break(bool comma, std::size_t indent) {
    static constexpr std::string_view kBreak =
        ",\n                                                                "
        "                                                                ";
    if (indent + 2 > kBreak.size()) {
      out_ += comma ? ",\n" : "\n";
      out_.append(indent, ' ');
      return;
    }
    std::size_t skip = comma ? 0 : 1;
    out_.append(kBreak.data() + skip, 2 - skip + indent);
  }

  std::string& out_;
  std::size_t depth_;
  // Per open object/array: nothing written in it yet. A writer opens at most three (an
  // attribute, its Value array, a person name); nested items have writers of their own.
  std::array<bool, 4> first_{};
  std::size_t open_ = 0;
};

void person_name(JsonWriter& json, const std::string& value) {
  if (value.empty()) return json.null();
  static constexpr const char* kGroups[] = {"Alphabetic", "Ideographic", "Phonetic"};
  json.open('{');
  std::string_view rest = value;
  for (const char* group : kGroups) {
    std::size_t cut = rest.find('=');
    std::string_view part = rest.substr(0, cut);
    if (!part.empty()) {
      json.key(group);
      json.string(part);
    }
    if (cut == std::string_view::npos) break;
    rest.remove_prefix(cut + 1);
  }
  json.close('}');
}

// DS/IS text that is a number, written as JSON writes it ("+5" -> 5, ".5" -> 0.5, "+01" -> 1,
// as metadata.json does); anything else ("40@", "NaN": JSON has no NaN) stays a string.
// Integers are exact over the whole 64-bit range (UV 18446744073709551615, SV -2^63), and an
// IS is an integer even when written "2.0" (pydicom reads it as 2).
void number_or_string(JsonWriter& json, const std::string& text, bool integer) {
  std::optional<std::string> normal = normalize_number(text);
  if (!normal) return json.string(text);
  const char* begin = normal->data();
  const char* end = begin + normal->size();
  if (integer) {
    std::int64_t signed_value = 0;
    if (auto r = std::from_chars(begin, end, signed_value); r.ec == std::errc() && r.ptr == end)
      return json.integer(signed_value);
    std::uint64_t unsigned_value = 0;
    if (auto r = std::from_chars(begin, end, unsigned_value); r.ec == std::errc() && r.ptr == end)
      return json.integer(unsigned_value);
  }
  double value = 0;
  if (auto r = std::from_chars(begin, end, value);
      r.ec != std::errc() || r.ptr != end || !std::isfinite(value)) {
    return json.string(text);
  }
  if (integer && std::trunc(value) == value && std::fabs(value) < 9.2e18)
    return json.integer(static_cast<std::int64_t>(value));
  json.number(value);
}

bool is_integer_vr(DcmEVR vr) {
  return vr == EVR_IS || vr == EVR_US || vr == EVR_UL || vr == EVR_UV || vr == EVR_SS ||
         vr == EVR_SL || vr == EVR_SV || vr == EVR_up;
}

void item_value(JsonWriter& json, const std::string& item, DcmEVR vr, ValueKind kind) {
  if (vr == EVR_PN) return person_name(json, item);
  if (item.empty()) return json.null();
  if (vr == EVR_AT && item.size() == 11) return json.string(item.substr(1, 4) + item.substr(6, 4));
  if (kind == ValueKind::kNumber || vr == EVR_up)
    return number_or_string(json, item, is_integer_vr(vr));
  json.string(item);
}

// The value's bytes as stored, little endian (PS3.18 F.2.7: InlineBinary of OW/OF/OD/OL/OV is
// the little-endian encoding of the value, whatever the file's byte order).
std::string value_bytes(DcmElement& element, const DecodedValue& value) {
  std::string bytes(element.getLength(), '\0');
  if (bytes.empty() || element
                           .getPartialValue(bytes.data(), 0, static_cast<Uint32>(bytes.size()),
                                            nullptr, EBO_LittleEndian)
                           .bad()) {
    return value.raw_bytes;
  }
  return bytes;
}

// One attribute, rendered on its own (nested at `depth` objects) so that an item's attributes
// can be put in key order: the keys of a JSON object are unique and sorted, as nlohmann's map
// kept them (a later duplicate replaces the earlier one, in its place).
struct Attribute {
  std::uint32_t tag = 0;  // "GGGGEEEE" sorts as the number does
  std::string text;
};

class JsonBuilder {
 public:
  explicit JsonBuilder(DecodedValues& decoded) : decoded_(decoded) {}

  // Writes the object of `item` as nlohmann did at `depth` (its nesting in objects/arrays).
  void item(std::string& out, DcmItem& item, const TextDecoder& inherited, std::size_t depth) {
    std::unique_ptr<TextDecoder> owned;
    const TextDecoder& decoder = item_decoder(item, inherited, owned);
    JsonWriter json(out, depth);
    json.open('{');
    auto tag_of = [](DcmObject* object) {
      return std::uint32_t{object->getGTag()} << 16 | object->getETag();
    };
    if (in_tag_order(item)) {
      // The usual case: each attribute goes straight to `out`, after its key.
      for (DcmObject* object = item.nextInContainer(nullptr); object != nullptr;
           object = item.nextInContainer(object)) {
        if (++count_ > kMaxElements) break;
        attribute(out, static_cast<DcmElement&>(*object), decoder, depth + 1, [&] {
          char key[8];
          hex_tag(key, tag_of(object));
          json.key(std::string_view(key, 8));
        });
      }
    } else {
      std::vector<Attribute> attributes;
      for (DcmObject* object = item.nextInContainer(nullptr); object != nullptr;
           object = item.nextInContainer(object)) {
        if (++count_ > kMaxElements) break;
        Attribute attribute;
        attribute.tag = tag_of(object);
        if (this->attribute(attribute.text, static_cast<DcmElement&>(*object), decoder, depth + 1,
                            [] {})) {
          attributes.push_back(std::move(attribute));
        }
      }
      std::stable_sort(attributes.begin(), attributes.end(), tag_less);
      for (std::size_t i = 0; i < attributes.size(); ++i) {
        if (i + 1 < attributes.size() && attributes[i + 1].tag == attributes[i].tag) continue;
        char key[8];
        hex_tag(key, attributes[i].tag);
        json.key(std::string_view(key, 8));
        out += attributes[i].text;
      }
    }
    json.close('}');
  }

 private:
  static bool tag_less(const Attribute& a, const Attribute& b) { return a.tag < b.tag; }

  // Whether the tags of `item` increase strictly (no element twice, none out of place).
  static bool in_tag_order(DcmItem& item) {
    std::uint32_t previous = 0;
    bool first = true;
    for (DcmObject* object = item.nextInContainer(nullptr); object != nullptr;
         object = item.nextInContainer(object)) {
      std::uint32_t tag = std::uint32_t{object->getGTag()} << 16 | object->getETag();
      if (!first && tag <= previous) return false;
      previous = tag;
      first = false;
    }
    return true;
  }

  static void hex_tag(char* out, std::uint32_t tag) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (int i = 7; i >= 0; --i, tag >>= 4) out[i] = kHex[tag & 15];
  }

  // The attribute's object, after `key` (which writes its key), or false when it is left out
  // (bulk data) and nothing is written.
  template <typename Key>
  bool attribute(std::string& out, DcmElement& element, const TextDecoder& decoder,
                 std::size_t depth, const Key& key) {
    DcmVR vr(element.getVR());
    if (element.ident() == EVR_SQ) {
      auto& sequence = static_cast<DcmSequenceOfItems&>(element);
      key();
      JsonWriter json(out, depth);
      json.open('{');
      bool any = false;
      for (DcmItem* child = next_item(sequence, nullptr);
           child != nullptr && item_depth_ + 1 <= kMaxSequenceDepth;
           child = next_item(sequence, child)) {
        if (!any) {
          json.key("Value");
          json.open('[');
          any = true;
        }
        json.element();
        ++item_depth_;
        item(out, *child, decoder, depth + 2);
        --item_depth_;
      }
      if (any) json.close(']');
      json.key("vr");
      json.string(vr.getValidVRName());
      json.close('}');
      return true;
    }
    const DecodedValue& value = decoded_.take(element, decoder);
    if (value.shape == DecodedValue::Shape::kSummary) return false;  // bulk data: omitted
    key();
    JsonWriter json(out, depth);
    json.open('{');
    if (value.binary && element.ident() != EVR_up) {
      // DICOMDIR offsets (EVR_up) are UL numbers, though DCMTK has a VR of its own for them.
      std::string bytes = value_bytes(element, value);
      if (!bytes.empty()) {
        json.key("InlineBinary");
        json.string(base64(bytes));
      }
    } else if (!value.items.empty()) {
      json.key("Value");
      json.open('[');
      for (const auto& text : value.items) {
        json.element();
        item_value(json, text, element.ident(), value.kind);
      }
      json.close(']');
    }
    json.key("vr");
    json.string(vr.getValidVRName());
    json.close('}');
    return true;
  }

  DecodedValues& decoded_;
  std::size_t count_ = 0;
  int item_depth_ = 0;
};

}  // namespace

std::string render_dicom_json(DicomHeaders& headers, DecodedValues& decoded) {
  std::string out;
  out.reserve(kTypicalSize);
  if (DcmDataset* dataset = headers.file.getDataset()) {
    TextDecoder ascii("");
    JsonBuilder(decoded).item(out, *dataset, ascii, 0);
  } else {
    out = "{}";
  }
  out += '\n';
  return out;
}

}  // namespace metafs::extract::dicom
