#include "dicom/dicom_value.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcvr.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "dicom/dicom_text.hpp"

namespace metafs::extract::dicom {
namespace {

enum class Family { kText, kUnsigned, kSigned, kFloat32, kFloat64, kTag, kBinary, kOther };

Family family_of(DcmEVR vr) {
  switch (vr) {
    case EVR_AE:
    case EVR_AS:
    case EVR_CS:
    case EVR_DA:
    case EVR_DS:
    case EVR_DT:
    case EVR_IS:
    case EVR_LO:
    case EVR_LT:
    case EVR_PN:
    case EVR_SH:
    case EVR_ST:
    case EVR_TM:
    case EVR_UC:
    case EVR_UI:
    case EVR_UR:
    case EVR_UT:
      return Family::kText;
    case EVR_US:
    case EVR_UL:
    case EVR_UV:
      return Family::kUnsigned;
    case EVR_SS:
    case EVR_SL:
    case EVR_SV:
      return Family::kSigned;
    case EVR_FL:
      return Family::kFloat32;
    case EVR_FD:
      return Family::kFloat64;
    case EVR_AT:
      return Family::kTag;
    case EVR_OB:
    case EVR_OD:
    case EVR_OF:
    case EVR_OL:
    case EVR_OV:
    case EVR_OW:
    case EVR_ox:
    case EVR_px:
    case EVR_lt:
    case EVR_UN:
    case EVR_UNKNOWN:
    case EVR_UNKNOWN2B:
    case EVR_PixelData:
    case EVR_OverlayData:
    case EVR_pixelSQ:
      return Family::kBinary;
    default:
      return Family::kOther;
  }
}

// ST, LT, UT and UR hold one value in which '\' is an ordinary character, and only their
// trailing spaces are padding.
bool is_single_text(DcmEVR vr) {
  return vr == EVR_ST || vr == EVR_LT || vr == EVR_UT || vr == EVR_UR;
}

std::string_view trim(std::string_view s, bool leading) {
  auto pad = [](char c) { return c == ' ' || c == '\0'; };
  while (!s.empty() && pad(s.back())) s.remove_suffix(1);
  while (leading && !s.empty() && pad(s.front())) s.remove_prefix(1);
  return s;
}

template <typename T>
std::string shortest(T value) {
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  return std::string(buffer, result.ptr);
}

std::string bytes_summary(std::size_t bytes) {
  return "<binary, " + std::to_string(bytes) + " bytes>";
}

// The values of `text` between backslashes, each without its leading and trailing padding.
void split_values(std::string_view text, std::vector<std::string>& values) {
  while (true) {
    std::size_t cut = text.find('\\');
    values.emplace_back(trim(text.substr(0, cut), true));
    if (cut == std::string_view::npos) break;
    text.remove_prefix(cut + 1);
  }
}

void decode_text(DcmElement& element, DcmEVR vr, const TextDecoder& decoder, DecodedValue& out) {
  std::size_t length = element.getLength();
  if (length > kMaxTextBytes) {
    out.shape = DecodedValue::Shape::kSummary;
    out.summary = "<text, " + std::to_string(length) + " bytes>";
    return;
  }
  char* data = nullptr;
  Uint32 size = 0;
  if (element.getString(data, size).bad() || data == nullptr) return;
  std::string_view raw(data, size);
  const char* delimiters = charset_delimiters(element);
  std::string text = delimiters ? decoder.decode(raw, delimiters) : ascii_or_escaped(raw);
  if (vr == EVR_DS || vr == EVR_IS) out.kind = ValueKind::kNumber;
  if (is_single_text(vr)) {
    std::string_view value = trim(text, false);
    if (!value.empty()) out.items.emplace_back(value);
    return;
  }
  if (trim(text, true).empty()) return;
  // Values are split at the file's own separators. The decoded text is UTF-8, where '\' is
  // never part of a multi-byte character, unless decoding escaped bytes as \xHH: then it holds
  // more backslashes than the raw bytes, and the raw bytes are split first (ISO 2022 returns
  // to its initial set at each separator, so each value decodes on its own).
  auto backslashes = [](std::string_view s) { return std::count(s.begin(), s.end(), '\\'); };
  if (backslashes(text) <= backslashes(raw)) {
    split_values(text, out.items);
    return;
  }
  std::vector<std::string> parts;
  split_values(raw, parts);
  for (const std::string& part : parts) {
    std::string decoded = delimiters ? decoder.decode(part, delimiters) : ascii_or_escaped(part);
    out.items.emplace_back(trim(decoded, true));
  }
}

template <typename T, typename Getter>
void decode_numbers(DcmElement& element, Getter get, DecodedValue& out) {
  unsigned long count = element.getVM();
  if (element.getLength() == 0) return;
  if (count > kMaxListItems || element.getLength() > kMaxReadLength) {
    out.shape = DecodedValue::Shape::kSummary;
    out.summary = std::string("<").append(std::to_string(count)).append(" values, ");
    out.summary.append(std::to_string(element.getLength())).append(" bytes>");
    return;
  }
  out.kind = ValueKind::kNumber;
  for (unsigned long i = 0; i < count; ++i) {
    T value{};
    if (get(element, value, i).bad()) break;
    if constexpr (std::is_floating_point_v<T>) {
      out.items.push_back(shortest(value));
    } else {
      out.items.push_back(std::to_string(value));
    }
  }
}

void decode_tags(DcmElement& element, DecodedValue& out) {
  unsigned long count = element.getVM();
  if (count > kMaxListItems) {
    out.shape = DecodedValue::Shape::kSummary;
    out.summary = std::string("<").append(std::to_string(count)).append(" values>");
    return;
  }
  for (unsigned long i = 0; i < count; ++i) {
    DcmTagKey key;
    if (element.getTagVal(key, i).bad()) break;
    char text[16];
    std::snprintf(text, sizeof text, "(%04X,%04X)", key.getGroup(), key.getElement());
    out.items.emplace_back(text);
  }
}

// "<encapsulated, N fragments, M bytes>" (the first fragment is the Basic Offset Table).
void summarise_fragments(DcmPixelSequence& sequence, DecodedValue& out) {
  std::uint64_t bytes = 0;
  unsigned long fragments = sequence.card();
  for (unsigned long i = 0; i < fragments; ++i) {
    DcmPixelItem* item = nullptr;
    if (sequence.getItem(item, i).good() && item != nullptr) bytes += item->getLength();
  }
  out.shape = DecodedValue::Shape::kSummary;
  out.summary = "<encapsulated, " + std::to_string(fragments) + " fragments, " +
                std::to_string(bytes) + " bytes>";
}

// The fragments of encapsulated Pixel Data read inside a sequence (an icon image), or nullptr.
DcmPixelSequence* encapsulated_fragments(DcmElement& element) {
  auto* pixel = dynamic_cast<DcmPixelData*>(&element);
  if (pixel == nullptr) return nullptr;
  E_TransferSyntax xfer = EXS_Unknown;
  const DcmRepresentationParameter* parameter = nullptr;
  pixel->getOriginalRepresentationKey(xfer, parameter);
  DcmPixelSequence* sequence = nullptr;
  if (!DcmXfer(xfer).isEncapsulated() ||
      pixel->getEncapsulatedRepresentation(xfer, parameter, sequence).bad()) {
    return nullptr;
  }
  return sequence;
}

void decode_binary(DcmElement& element, DcmEVR vr, DecodedValue& out) {
  out.binary = true;
  if (element.ident() == EVR_pixelSQ) {
    summarise_fragments(static_cast<DcmPixelSequence&>(element), out);
    return;
  }
  if (DcmPixelSequence* fragments = encapsulated_fragments(element)) {
    summarise_fragments(*fragments, out);
    return;
  }
  std::size_t length = element.getLength();
  if (length == 0) return;
  if (length > kMaxShownBinaryBytes) {
    out.shape = DecodedValue::Shape::kSummary;
    out.summary = bytes_summary(length);
    return;
  }
  // Small values are shown as dcmdump shows them: hex bytes/words (OB, OW, UN), or every
  // number of OF, OD, OL and OV. Those hold one value of many numbers (VM 1, PS3.5 6.2), so
  // DCMTK's getOFStringArray, which goes by VM, would give the first number only.
  if (vr == EVR_OF || vr == EVR_OD || vr == EVR_OL || vr == EVR_OV) {
    out.kind = ValueKind::kNumber;
    unsigned long count = element.getNumberOfValues();
    for (unsigned long i = 0; i < count; ++i) {
      // OF/OD as FL/FD: the shortest text that reads back to the same number.
      if (vr == EVR_OF) {
        Float32 number = 0;
        if (element.getFloat32(number, i).bad()) break;
        out.items.push_back(shortest(number));
      } else if (vr == EVR_OD) {
        Float64 number = 0;
        if (element.getFloat64(number, i).bad()) break;
        out.items.push_back(shortest(number));
      } else {
        OFString number;
        if (element.getOFString(number, i).bad()) break;
        out.items.emplace_back(number.c_str(), number.length());
      }
    }
  } else {
    OFString text;
    if (element.getOFStringArray(text).bad()) {
      out.shape = DecodedValue::Shape::kSummary;
      out.summary = bytes_summary(length);
      return;
    }
    std::string_view rest(text.c_str(), text.length());
    while (true) {
      std::size_t cut = rest.find('\\');
      out.items.emplace_back(rest.substr(0, cut));
      if (cut == std::string_view::npos) break;
      rest.remove_prefix(cut + 1);
    }
  }
  Uint8* bytes = nullptr;
  if (element.getUint8Array(bytes).good() && bytes != nullptr) {
    out.raw_bytes.assign(reinterpret_cast<const char*>(bytes), length);
  }
}

}  // namespace

std::string DecodedValue::joined() const {
  if (shape == Shape::kSummary) return summary;
  std::string text;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += '\\';
    text += items[i];
  }
  return text;
}

void DecodedValues::put(DcmElement& element, DecodedValue&& value) {
  values_.emplace_back(&element, element.getLengthField(), std::move(value));
}

const DecodedValue& DecodedValues::take(DcmElement& element, const TextDecoder& decoder) {
  if (next_ < values_.size() && values_[next_].element == &element) {
    Entry& entry = values_[next_++];
    if (family_of(element.ident()) != Family::kText || element.getLength() == entry.length)
      return entry.value;
  }
  decoded_again_ = decode_value(element, decoder);
  return decoded_again_;
}

const char* charset_delimiters(const DcmElement& element) {
  switch (element.ident()) {
    case EVR_PN:
      return "\\^=";
    case EVR_SH:
    case EVR_LO:
    case EVR_UC:
      return "\\";
    case EVR_ST:
    case EVR_LT:
    case EVR_UT:
      return "";
    default:
      return nullptr;
  }
}

DecodedValue decode_value(DcmElement& element, const TextDecoder& decoder) {
  DecodedValue out;
  DcmEVR vr = element.ident();
  switch (family_of(vr)) {
    case Family::kText:
      decode_text(element, vr, decoder, out);
      break;
    case Family::kUnsigned:
      decode_numbers<Uint64>(
          element,
          [](DcmElement& e, Uint64& v, unsigned long i) {
            if (e.ident() == EVR_US) {
              Uint16 x = 0;
              auto c = e.getUint16(x, i);
              v = x;
              return c;
            }
            if (e.ident() == EVR_UL) {
              Uint32 x = 0;
              auto c = e.getUint32(x, i);
              v = x;
              return c;
            }
            return e.getUint64(v, i);
          },
          out);
      break;
    case Family::kSigned:
      decode_numbers<Sint64>(
          element,
          [](DcmElement& e, Sint64& v, unsigned long i) {
            if (e.ident() == EVR_SS) {
              Sint16 x = 0;
              auto c = e.getSint16(x, i);
              v = x;
              return c;
            }
            if (e.ident() == EVR_SL) {
              Sint32 x = 0;
              auto c = e.getSint32(x, i);
              v = x;
              return c;
            }
            return e.getSint64(v, i);
          },
          out);
      break;
    case Family::kFloat32:
      decode_numbers<Float32>(
          element, [](DcmElement& e, Float32& v, unsigned long i) { return e.getFloat32(v, i); },
          out);
      break;
    case Family::kFloat64:
      decode_numbers<Float64>(
          element, [](DcmElement& e, Float64& v, unsigned long i) { return e.getFloat64(v, i); },
          out);
      break;
    case Family::kTag:
      decode_tags(element, out);
      break;
    case Family::kBinary:
    case Family::kOther:
      decode_binary(element, vr, out);
      break;
  }
  return out;
}

}  // namespace metafs::extract::dicom
