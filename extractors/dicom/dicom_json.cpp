#include "dicom/dicom_json.hpp"

#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcvr.h>

#include <charconv>
#include <memory>
#include <nlohmann/json.hpp>

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

Json number_or_string(const std::string& text, bool integer) {
  if (is_json_number(text)) {
    if (integer) {
      long long value = 0;
      auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (error == std::errc() && end == text.data() + text.size()) return value;
    }
    return std::stod(text);
  }
  // DS/IS may be written "+5" or ".5", which JSON does not accept as numbers.
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (!text.empty() && end == text.c_str() + text.size() && std::isfinite(value)) return value;
  return text;
}

Json item_value(const std::string& item, DcmEVR vr, ValueKind kind) {
  if (vr == EVR_PN) return person_name(item);
  if (item.empty()) return nullptr;
  if (vr == EVR_AT && item.size() == 11) return item.substr(1, 4) + item.substr(6, 4);
  if (kind == ValueKind::kNumber) {
    bool integer = vr == EVR_IS || vr == EVR_US || vr == EVR_UL || vr == EVR_UV || vr == EVR_SS ||
                   vr == EVR_SL || vr == EVR_SV;
    return number_or_string(item, integer);
  }
  return item;
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
        if (value.binary) {
          if (!value.raw_bytes.empty()) attribute["InlineBinary"] = base64(value.raw_bytes);
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
