#include "dicom/dicom_text.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcspchrs.h>
#include <iconv.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "byte_scan.hpp"

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
  // ESC starts an ISO 2022 escape sequence even in 7-bit text.
  return any_byte(raw, [](unsigned char byte) { return (byte >= 0x80) | (byte == 0x1b); });
}

// The code elements PS3.3 C.12.1.1.2 defines for ISO 2022 code extensions (Table C.12-4), by
// the IR number of their defined term and the escape sequence (after ESC) that designates them.
struct Designation {
  enum class Kind {
    kAscii,     // G0, bytes as they are
    kKatakana,  // G1 JIS X 0201 katakana, 0xA1-0xDF: half-width forms U+FF61...
    kDouble,    // two bytes per character (G0: 0x21-0x7E, G1: 0xA1-0xFE) through iconv
    kSingle,    // G1 96-character set through iconv
  };
  std::string_view ir;
  std::string_view escape;
  int g;
  Kind kind;
  const char* iconv = nullptr;   // a name keep_character_set_modules() opens
  std::string_view prefix = {};  // prepended to G0 pairs (set to 0x80 first) for iconv
};

using Kind = Designation::Kind;
constexpr Designation kDesignations[] = {
    {"6", "(B", 0, Kind::kAscii},
    // JIS X 0201 romaji differs from ASCII only at 0x5C and 0x7E; read as ASCII, as pydicom does.
    {"13", "(J", 0, Kind::kAscii},
    {"13", ")I", 1, Kind::kKatakana},
    // JIS X 0208 and 0212 as EUC-JP: both bytes + 0x80, JIS X 0212 behind SS3 (0x8F).
    {"87", "$B", 0, Kind::kDouble, "EUC-JP"},
    {"159", "$(D", 0, Kind::kDouble, "EUC-JP", "\x8F"},
    {"149", "$)C", 1, Kind::kDouble, "EUC-KR"},
    {"58", "$)A", 1, Kind::kDouble, "GB2312"},
    {"100", "-A", 1, Kind::kSingle, "ISO-8859-1"},
    {"101", "-B", 1, Kind::kSingle, "ISO-8859-2"},
    {"109", "-C", 1, Kind::kSingle, "ISO-8859-3"},
    {"110", "-D", 1, Kind::kSingle, "ISO-8859-4"},
    {"144", "-L", 1, Kind::kSingle, "ISO-8859-5"},
    {"127", "-G", 1, Kind::kSingle, "ISO-8859-6"},
    {"126", "-F", 1, Kind::kSingle, "ISO-8859-7"},
    {"138", "-H", 1, Kind::kSingle, "ISO-8859-8"},
    {"148", "-M", 1, Kind::kSingle, "ISO-8859-9"},
    {"203", "-b", 1, Kind::kSingle, "ISO-8859-15"},
    {"166", "-T", 1, Kind::kSingle, "TIS-620"},
};

void append_utf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xC0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code & 0x3F));
  }
}

}  // namespace

// Decodes ISO 2022 text (PS3.5 6.1.2.5) one character at a time: the value is cut at its escape
// sequences, each character is converted in the set designated to G0 (bytes < 0x80) or G1
// (bytes >= 0x80), and a character its set cannot convert comes out as \xHH while the rest
// still decodes.
class Iso2022Decoder {
 public:
  explicit Iso2022Decoder(std::string_view charset) {
    // The first term's sets are the initial ones (ASCII when it is empty or names none). A
    // two-byte G0 set named first (not allowed, but written) still starts in ASCII, as pydicom
    // reads it: its text is ASCII until an escape sequence.
    std::string_view first = charset.substr(0, charset.find('\\'));
    std::size_t ir = first.rfind("IR ");
    if (ir != std::string_view::npos) {
      std::string_view number = first.substr(ir + 3);
      for (const Designation& d : kDesignations) {
        if (d.ir == number && !(d.g == 0 && d.kind == Kind::kDouble)) designate(initial_, d);
      }
    }
  }
  ~Iso2022Decoder() {
    for (auto& [name, cd] : converters_) {
      if (cd != kNoConverter) ::iconv_close(cd);
    }
  }
  Iso2022Decoder(const Iso2022Decoder&) = delete;
  Iso2022Decoder& operator=(const Iso2022Decoder&) = delete;

  std::string decode(std::string_view raw, std::string_view delimiters) {
    std::string out;
    out.reserve(raw.size() * 2);
    State state = initial_;
    std::size_t i = 0;
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(raw[k]); };
    while (i < raw.size()) {
      unsigned char c = byte(i);
      if (c == 0x1B) {
        const Designation* found = nullptr;
        for (const Designation& d : kDesignations) {
          if (raw.substr(i + 1).starts_with(d.escape)) found = &d;
        }
        if (found != nullptr) {
          designate(state, *found);
          i += 1 + found->escape.size();
        } else {
          append_hex_escape(out, c);
          ++i;
        }
        continue;
      }
      const Designation* set = c < 0x80 ? state.g0 : state.g1;
      if (c < 0x80 && (set->kind != Kind::kDouble || c <= 0x20 || c == 0x7F)) {
        // Control characters and (outside a two-byte set) the delimiters switch back to the
        // initial sets; inside one, '^' or '=' may be half of a character.
        bool control = c == '\r' || c == '\n' || c == '\f' || c == '\t';
        if (control || (set->kind != Kind::kDouble &&
                        delimiters.find(static_cast<char>(c)) != std::string_view::npos)) {
          state = initial_;
        }
        out += static_cast<char>(c);
        ++i;
        continue;
      }
      if (set == nullptr) {
        append_hex_escape(out, c);
        ++i;
        continue;
      }
      switch (set->kind) {
        case Kind::kAscii:  // not reached: bytes < 0x80 are handled above, ASCII is never G1
          append_hex_escape(out, c);
          ++i;
          break;
        case Kind::kKatakana:
          if (c >= 0xA1 && c <= 0xDF) {
            append_utf8(out, 0xFF61 + (c - 0xA1));
          } else {
            append_hex_escape(out, c);
          }
          ++i;
          break;
        case Kind::kSingle:
          convert(out, *set, raw.substr(i, 1));
          ++i;
          break;
        case Kind::kDouble: {
          auto in_range = [&](unsigned char b) {
            return set->g == 0 ? b >= 0x21 && b <= 0x7E : b >= 0xA1 && b <= 0xFE;
          };
          if (i + 1 < raw.size() && in_range(byte(i + 1)) && in_range(c)) {
            convert(out, *set, raw.substr(i, 2));
            i += 2;
          } else {
            append_hex_escape(out, c);
            ++i;
          }
          break;
        }
      }
    }
    return out;
  }

 private:
  struct State {
    const Designation* g0 = &kDesignations[0];
    const Designation* g1 = nullptr;
  };

  static void designate(State& state, const Designation& d) {
    (d.g == 0 ? state.g0 : state.g1) = &d;
  }

  // One character's bytes `raw` in `set` appended as UTF-8, or as \xHH when it has none.
  void convert(std::string& out, const Designation& set, std::string_view raw) {
    std::string in(set.prefix);
    for (char c : raw) in += set.g == 0 ? static_cast<char>(c | 0x80) : c;
    iconv_t cd = converter(set.iconv);
    char buffer[16];
    char* in_ptr = in.data();
    std::size_t in_left = in.size();
    char* out_ptr = buffer;
    std::size_t out_left = sizeof buffer;
    if (cd != kNoConverter) ::iconv(cd, nullptr, nullptr, nullptr, nullptr);
    if (cd != kNoConverter &&
        ::iconv(cd, &in_ptr, &in_left, &out_ptr, &out_left) != static_cast<std::size_t>(-1) &&
        in_left == 0 && out_ptr != buffer) {
      std::string_view converted(buffer, static_cast<std::size_t>(out_ptr - buffer));
      if (is_valid_utf8(converted)) {
        out += converted;
        return;
      }
    }
    for (char c : raw) append_hex_escape(out, static_cast<unsigned char>(c));
  }

  iconv_t converter(const char* name) {
    auto [it, added] = converters_.try_emplace(name, kNoConverter);
    if (added) it->second = ::iconv_open("UTF-8", name);
    return it->second;
  }

  static inline const iconv_t kNoConverter = reinterpret_cast<iconv_t>(-1);
  State initial_;
  std::map<std::string_view, iconv_t> converters_;
};

TextDecoder::TextDecoder(std::string charset) : charset_(std::move(charset)) {}

TextDecoder::~TextDecoder() = default;

bool TextDecoder::plain_utf8() const {
  // The terms whose bytes already are UTF-8 (GB18030 is a superset of ASCII, not of UTF-8).
  return charset_ == "ISO_IR 192";
}

std::string TextDecoder::decode(std::string_view raw, std::string_view delimiters) const {
  if (!needs_conversion(raw)) return std::string(raw);
  if (plain_utf8()) return utf8_or_escaped(raw);
  // No character set beyond ASCII declared, yet bytes above it: read as ISO 8859-1, as pydicom
  // does (its default encoding), rather than as escapes (PS3.5 6.1.2.2 leaves it undefined).
  if (charset_.empty() || charset_ == "ISO_IR 6") return latin1_to_utf8(raw);
  if (!converter_ready_ && !converter_failed_) {
    converter_ = std::make_unique<DcmSpecificCharacterSet>();
    converter_failed_ = converter_->selectCharacterSet(charset_.c_str()).bad();
    converter_ready_ = !converter_failed_;
  }
  if (converter_failed_) return decode_iso2022(raw, delimiters);
  OFString out;
  OFCondition status = converter_->convertString(raw.data(), raw.size(), out,
                                                 OFString(delimiters.data(), delimiters.size()));
  if (status.bad()) return decode_iso2022(raw, delimiters);
  std::string_view converted(out.c_str(), out.length());
  if (converted.find('\x1b') != std::string_view::npos || !is_valid_utf8(converted)) {
    return decode_iso2022(raw, delimiters);
  }
  return std::string(converted);
}

std::string TextDecoder::decode_iso2022(std::string_view raw, std::string_view delimiters) const {
  // Only for code extensions: other sets keep what they showed when DCMTK could not decode.
  if (charset_.find("2022") == std::string::npos) return ascii_or_escaped(raw);
  if (!iso2022_) iso2022_ = std::make_unique<Iso2022Decoder>(charset_);
  return iso2022_->decode(raw, delimiters);
}

void keep_character_set_modules() {
  // glibc iconv names of the DICOM character sets (PS3.3 C.12.1.1.2), the names DCMTK's
  // converter and kDesignations open them by, and their aliases.
  static constexpr const char* kCharsets[] = {
      "ASCII",           "ISO-8859-1",    "ISO-8859-2",    "ISO-8859-3", "ISO-8859-4",
      "ISO-8859-5",      "ISO-8859-6",    "ISO-8859-7",    "ISO-8859-8", "ISO-8859-9",
      "ISO-8859-15",     "TIS-620",       "SHIFT_JIS",     "JIS_X0201",  "EUC-JP",
      "ISO-2022-JP",     "ISO-2022-JP-1", "ISO-2022-JP-2", "EUC-KR",     "ISO-2022-KR",
      "GB18030",         "GBK",           "GB2312",        "EUC-CN",     "ISO-2022-CN",
      "ISO-2022-CN-EXT", "UTF-8",         "UTF-16",        "UCS-4",      "WCHAR_T"};
  static std::once_flag kept;
  std::call_once(kept, [] {
    static std::vector<iconv_t> open;  // never closed: a module stays while one is open
    for (const char* charset : kCharsets) {
      for (auto [to, from] : {std::pair{"UTF-8", charset}, std::pair{charset, "UTF-8"}}) {
        iconv_t cd = ::iconv_open(to, from);
        if (cd != reinterpret_cast<iconv_t>(-1)) open.push_back(cd);
      }
    }
  });
}

std::string latin1_to_utf8(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() * 2);
  for (char c : raw) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x80) {
      out += c;
    } else {
      out += static_cast<char>(0xC0 | (byte >> 6));
      out += static_cast<char>(0x80 | (byte & 0x3F));
    }
  }
  return out;
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
  std::size_t i = 0;
  while (i < text.size()) {
    // Most text (all of most header.txt files) is ASCII: 8 bytes at a time up to the next
    // byte that is not, then that one sequence, then ASCII again.
    for (std::uint64_t word = 0; i + sizeof word <= text.size(); i += sizeof word) {
      std::memcpy(&word, text.data() + i, sizeof word);
      if ((word & 0x8080808080808080ULL) != 0) break;
    }
    if (i == text.size()) break;
    std::size_t n = utf8_sequence_length(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace metafs::extract::dicom
