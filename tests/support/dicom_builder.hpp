#pragma once

// Builds small DICOM files (explicit VR little endian, preamble and meta header) byte by byte,
// so a test can place values, sequences and damage exactly where it wants. Header-only.
#include <cstdint>
#include <string>

namespace metafs::test {

class DicomBuilder {
 public:
  // `implicit_vr`: the meta header names Implicit VR Little Endian, and the dataset is to be
  // written with implicit() (tag, 4-byte length, value; no VR). `transfer_syntax`: the UID the
  // meta header names instead (e.g. one that does not match the dataset).
  explicit DicomBuilder(bool implicit_vr = false, std::string transfer_syntax = "") {
    if (transfer_syntax.empty())
      transfer_syntax = implicit_vr ? "1.2.840.10008.1.2" : "1.2.840.10008.1.2.1";
    std::string meta;
    std::swap(meta, body_);
    text(0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.7");
    text(0x0002, 0x0003, "UI", "1.2.3.4.5");
    text(0x0002, 0x0010, "UI", transfer_syntax);
    std::swap(meta, body_);
    body_.assign(128, '\0');
    body_ += "DICM";
    tag(0x0002, 0x0000);
    body_ += "UL";
    u16(4);
    u32(static_cast<std::uint32_t>(meta.size()));
    body_ += meta;
  }

  // An element with a 2-byte length (AE, CS, DA, LO, PN, SH, UI, US, ...), padded to even.
  DicomBuilder& text(std::uint16_t group, std::uint16_t element, const char* vr, std::string v) {
    if (v.size() % 2) v += (vr[0] == 'U' && vr[1] == 'I') ? '\0' : ' ';
    tag(group, element);
    body_ += vr;
    u16(static_cast<std::uint16_t>(v.size()));
    body_ += v;
    return *this;
  }

  // An element with a 4-byte length (LT is 2-byte; OB, OW, UN, UT, UC, UR are 4-byte).
  // `declared` lets a test claim more bytes than it writes (0: the value's size).
  DicomBuilder& long_value(std::uint16_t group, std::uint16_t element, const char* vr,
                           const std::string& v, std::uint32_t declared = 0) {
    tag(group, element);
    body_ += vr;
    u16(0);
    u32(declared ? declared : static_cast<std::uint32_t>(v.size()));
    body_ += v;
    return *this;
  }

  // A 2-byte-length element whose header claims `declared` bytes, followed by `v` only.
  DicomBuilder& short_claim(std::uint16_t group, std::uint16_t element, const char* vr,
                            const std::string& v, std::uint16_t declared) {
    tag(group, element);
    body_ += vr;
    u16(declared);
    body_ += v;
    return *this;
  }

  // An implicit VR element: tag, 4-byte length, the value as given (odd lengths stay odd).
  DicomBuilder& implicit(std::uint16_t group, std::uint16_t element, const std::string& v) {
    tag(group, element);
    u32(static_cast<std::uint32_t>(v.size()));
    body_ += v;
    return *this;
  }

  // A sequence of undefined length; items are opened and closed around the elements.
  DicomBuilder& begin_sequence(std::uint16_t group, std::uint16_t element) {
    tag(group, element);
    body_ += "SQ";
    u16(0);
    u32(0xFFFFFFFF);
    return *this;
  }
  DicomBuilder& begin_item() {
    tag(0xFFFE, 0xE000);
    u32(0xFFFFFFFF);
    return *this;
  }
  DicomBuilder& end_item() {
    tag(0xFFFE, 0xE00D);
    u32(0);
    return *this;
  }
  DicomBuilder& end_sequence() {
    tag(0xFFFE, 0xE0DD);
    u32(0);
    return *this;
  }

  const std::string& bytes() const { return body_; }

 private:
  void u16(std::uint16_t v) {
    body_ += static_cast<char>(v & 0xFF);
    body_ += static_cast<char>(v >> 8);
  }
  void u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v & 0xFFFF));
    u16(static_cast<std::uint16_t>(v >> 16));
  }
  void tag(std::uint16_t group, std::uint16_t element) {
    u16(group);
    u16(element);
  }

  std::string body_;
};

}  // namespace metafs::test
