#pragma once

#include <memory>
#include <string>
#include <string_view>

class DcmSpecificCharacterSet;

namespace metafs::extract::dicom {

class Iso2022Decoder;

// Decodes the text values of one dataset or sequence item to UTF-8 according to its Specific
// Character Set (0008,0005), using DCMTK's character-set conversion (ISO 2022 code extensions,
// GB18030, ...). Bytes that cannot be decoded come out as \xHH; the one fallback: with no
// set declared (or only ISO_IR 6), bytes above ASCII are ISO 8859-1, as pydicom reads them.
// Not thread-safe: one decoder per extraction.
class TextDecoder {
 public:
  // `charset`: the value of (0008,0005) as stored (backslash separated); "" means ASCII.
  explicit TextDecoder(std::string charset);
  ~TextDecoder();
  TextDecoder(const TextDecoder&) = delete;
  TextDecoder& operator=(const TextDecoder&) = delete;

  // A value of a VR affected by the character set (SH, LO, ST, LT, UT, PN, UC). `delimiters`
  // are the characters that switch ISO 2022 back to the initial set ("\\" for SH/LO/UC,
  // "\\^=" for PN, "" for the text VRs).
  std::string decode(std::string_view raw, std::string_view delimiters) const;

  const std::string& charset() const { return charset_; }

 private:
  bool plain_utf8() const;
  std::string decode_iso2022(std::string_view raw, std::string_view delimiters) const;

  std::string charset_;
  mutable std::unique_ptr<DcmSpecificCharacterSet> converter_;
  mutable bool converter_ready_ = false;
  mutable bool converter_failed_ = false;
  // Our own ISO 2022 decoder, for the sets DCMTK's converter refuses (Debian's refuses the
  // Japanese ones) or leaves escape sequences in.
  mutable std::unique_ptr<Iso2022Decoder> iso2022_;
};

// Loads glibc's iconv module of every DICOM character set (PS3.3 C.12.1.1.2; both directions
// with UTF-8) and keeps one descriptor of each open for the process's life, once per process.
// Without it a module is loaded when a value or a dataset of its set is converted and
// unloaded when that converter closes: for every file (half of a non-ASCII file's extraction
// in a process that goes on from file to file). Workers need it too: their sandbox forbids
// loading a module later. Called when the DICOM extractor is made.
void keep_character_set_modules();

// ISO 8859-1 bytes as UTF-8 (every byte is a character).
std::string latin1_to_utf8(std::string_view raw);

// A value of a VR limited to ASCII (CS, DA, UI, DS, ...): bytes >= 0x80 as \xHH.
std::string ascii_or_escaped(std::string_view raw);

// Valid UTF-8 sequences kept, every byte of an invalid one as \xHH.
std::string utf8_or_escaped(std::string_view raw);

// True when `text` is entirely valid UTF-8.
bool is_valid_utf8(std::string_view text);

}  // namespace metafs::extract::dicom
