#include "dicom/dicom_text.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcspchrs.h>

#include <cstdint>

namespace metafs::extract::dicom {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

void append_hex_escape(std::string& out, unsigned char byte) {
  out += "\\x";
  out += kHex[byte >> 4];
  out += kHex[byte & 0xF];
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto continuation = [&](std::size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return continuation(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!continuation(i + 1) || !continuation(i + 2)) return 0;
    if (c == 0xE0 && byte(i + 1) < 0xA0) return 0;   // overlong
    if (c == 0xED && byte(i + 1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!continuation(i + 1) || !continuation(i + 2) || !continuation(i + 3)) return 0;
    if (c == 0xF0 && byte(i + 1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && byte(i + 1) >= 0x90) return 0;  // beyond U+10FFFF
    return 4;
  }
  return 0;
}

bool needs_conversion(std::string_view raw) {
  for (char c : raw) {
    // ESC starts an ISO 2022 escape sequence even in 7-bit text.
    if (static_cast<unsigned char>(c) >= 0x80 || c == '\x1b') return true;
  }
  return false;
}

}  // namespace

TextDecoder::TextDecoder(std::string charset) : charset_(std::move(charset)) {}

TextDecoder::~TextDecoder() = default;

bool TextDecoder::plain_utf8() const {
  // The terms whose bytes already are UTF-8 (GB18030 is a superset of ASCII, not of UTF-8).
  return charset_ == "ISO_IR 192";
}

std::string TextDecoder::decode(std::string_view raw, std::string_view delimiters) const {
  if (!needs_conversion(raw)) return std::string(raw);
  if (plain_utf8()) return utf8_or_escaped(raw);
  if (charset_.empty() || charset_ == "ISO_IR 6") return ascii_or_escaped(raw);
  if (!converter_ready_ && !converter_failed_) {
    converter_ = std::make_unique<DcmSpecificCharacterSet>();
    converter_failed_ = converter_->selectCharacterSet(charset_.c_str()).bad();
    converter_ready_ = !converter_failed_;
  }
  if (converter_failed_) return ascii_or_escaped(raw);
  OFString out;
  OFCondition status = converter_->convertString(raw.data(), raw.size(), out,
                                                 OFString(delimiters.data(), delimiters.size()));
  if (status.bad()) return ascii_or_escaped(raw);
  std::string_view converted(out.c_str(), out.length());
  return is_valid_utf8(converted) ? std::string(converted) : ascii_or_escaped(raw);
}

std::string ascii_or_escaped(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (char c : raw) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      append_hex_escape(out, byte);
    } else {
      out += c;
    }
  }
  return out;
}

std::string utf8_or_escaped(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  std::size_t i = 0;
  while (i < raw.size()) {
    std::size_t n = utf8_sequence_length(raw, i);
    if (n == 0) {
      append_hex_escape(out, static_cast<unsigned char>(raw[i]));
      ++i;
    } else {
      out.append(raw.substr(i, n));
      i += n;
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = utf8_sequence_length(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace metafs::extract::dicom
