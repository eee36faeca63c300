#include "dicom/dicom_json.hpp"

#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvr.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "dicom/dicom_fields.hpp"
#include "dicom/dicom_item.hpp"
#include "dicom/dicom_names.hpp"
#include "dicom/dicom_text.hpp"
#include "dicom/dicom_value.hpp"
#include "render.hpp"

namespace metafs::extract::dicom {
namespace {

// Keys "GGGGEEEE" sort like the tags, so a sorted map keeps DICOM order (and is much
// cheaper than an insertion-ordered one for items with hundreds of elements).
using Json = nlohmann::json;

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

Json person_name(const std::string& value) {
  if (value.empty()) return nullptr;
  static constexpr const char* kGroups[] = {"Alphabetic", "Ideographic", "Phonetic"};
  Json name = Json::object();
  std::string_view rest = value;
  for (const char* group : kGroups) {
    std::size_t cut = rest.find('=');
    std::string_view part = rest.substr(0, cut);
    if (!part.empty()) name[group] = std::string(part);
    if (cut == std::string_view::npos) break;
    rest.remove_prefix(cut + 1);
  }
  return name;
}

// DS/IS text that is a number, written as JSON writes it ("+5" -> 5, ".5" -> 0.5, "+01" -> 1,
// as metadata.json does); anything else ("40@", "NaN": JSON has no NaN) stays a string.
// Integers are exact over the whole 64-bit range (UV 18446744073709551615, SV -2^63), and an
// IS is an integer even when written "2.0" (pydicom reads it as 2).
Json number_or_string(const std::string& text, bool integer) {
  std::optional<std::string> normal = normalize_number(text);
  if (!normal) return text;
  const char* begin = normal->data();
  const char* end = begin + normal->size();
  if (integer) {
    std::int64_t signed_value = 0;
    if (auto r = std::from_chars(begin, end, signed_value); r.ec == std::errc() && r.ptr == end)
      return signed_value;
    std::uint64_t unsigned_value = 0;
    if (auto r = std::from_chars(begin, end, unsigned_value); r.ec == std::errc() && r.ptr == end)
      return unsigned_value;
  }
  double value = 0;
  if (auto r = std::from_chars(begin, end, value);
      r.ec != std::errc() || r.ptr != end || !std::isfinite(value)) {
    return text;
  }
  if (integer && std::trunc(value) == value && std::fabs(value) < 9.2e18)
    return static_cast<std::int64_t>(value);
  return value;
}

bool is_integer_vr(DcmEVR vr) {
  return vr == EVR_IS || vr == EVR_US || vr == EVR_UL || vr == EVR_UV || vr == EVR_SS ||
         vr == EVR_SL || vr == EVR_SV || vr == EVR_up;
}

Json item_value(const std::string& item, DcmEVR vr, ValueKind kind) {
  if (vr == EVR_PN) return person_name(item);
  if (item.empty()) return nullptr;
  if (vr == EVR_AT && item.size() == 11) return item.substr(1, 4) + item.substr(6, 4);
  if (kind == ValueKind::kNumber || vr == EVR_up) return number_or_string(item, is_integer_vr(vr));
  return item;
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

class JsonBuilder {
 public:
  Json item(DcmItem& item, const TextDecoder& inherited, int depth) {
    std::unique_ptr<TextDecoder> owned;
    const TextDecoder& decoder = item_decoder(item, inherited, owned);
    Json out = Json::object();
    for (DcmObject* object = item.nextInContainer(nullptr); object != nullptr;
         object = item.nextInContainer(object)) {
      if (++count_ > kMaxElements) break;
      auto* element = static_cast<DcmElement*>(object);
      DcmVR vr(element->getVR());
      Json attribute = Json::object();
      attribute["vr"] = vr.getValidVRName();
      if (element->ident() == EVR_SQ) {
        auto& sequence = static_cast<DcmSequenceOfItems&>(*element);
        Json items = Json::array();
        for (unsigned long i = 0; i < sequence.card() && depth + 1 <= kMaxSequenceDepth; ++i) {
          if (DcmItem* child = sequence.getItem(i))
            items.push_back(this->item(*child, decoder, depth + 1));
        }
        if (!items.empty()) attribute["Value"] = std::move(items);
      } else {
        DecodedValue value = decode_value(*element, decoder);
        if (value.shape == DecodedValue::Shape::kSummary) continue;  // bulk data: omitted
        if (value.binary && element->ident() != EVR_up) {
          // DICOMDIR offsets (EVR_up) are UL numbers, though DCMTK has a VR of its own for them.
          std::string bytes = value_bytes(*element, value);
          if (!bytes.empty()) attribute["InlineBinary"] = base64(bytes);
        } else if (!value.items.empty()) {
          Json values = Json::array();
          for (const auto& text : value.items) {
            values.push_back(item_value(text, element->ident(), value.kind));
          }
          attribute["Value"] = std::move(values);
        }
      }
      out[tag_json_key(element->getTag())] = std::move(attribute);
    }
    return out;
  }

 private:
  std::size_t count_ = 0;
};

}  // namespace

std::string render_dicom_json(DicomHeaders& headers) {
  Json root = Json::object();
  if (DcmDataset* dataset = headers.file.getDataset()) {
    TextDecoder ascii("");
    root = JsonBuilder().item(*dataset, ascii, 0);
  }
  return root.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace metafs::extract::dicom
