#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace metafs::extract {

// What every decoder of this module throws for bytes it cannot trust: truncated, oversize,
// inconsistent or corrupted input. The message says what was wrong, for the log.
class CodecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Appends unsigned LEB128 (7 bits a byte, low first).
void put_varint(std::string& out, std::uint64_t value);
// The bytes put_varint appends for `value` (1 to 10).
inline std::size_t varint_size(std::uint64_t value) {
  std::size_t n = 1;
  for (; value >= 0x80; value >>= 7) ++n;
  return n;
}
// Appends a varint length and the bytes.
void put_bytes(std::string& out, std::string_view bytes);
void put_u64_be(std::string& out, std::uint64_t value);

// A bounds-checked cursor over untrusted bytes. Every read throws CodecError instead of
// reading past the end, and lengths/counts are checked against what is left, so a decoder
// never allocates more than the input could describe.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}

  std::size_t remaining() const { return bytes_.size() - pos_; }
  bool at_end() const { return pos_ == bytes_.size(); }

  std::uint8_t u8();
  std::uint64_t u64_be();
  // Throws on overlong encodings (more than 10 bytes, or bits past 64).
  std::uint64_t varint();
  // A varint that must be <= max; `what` names the field in the error.
  std::uint64_t varint_max(std::uint64_t max, const char* what);
  // A count of items that each take at least `min_item_bytes` (>= 1) of the rest of the input.
  std::size_t count(std::size_t max, std::size_t min_item_bytes, const char* what);
  // A varint length (<= max_len and <= remaining()) and that many bytes, as a view into the
  // input.
  std::string_view bytes(std::size_t max_len, const char* what);
  std::string_view raw(std::size_t n, const char* what);

 private:
  std::string_view bytes_;
  std::size_t pos_ = 0;
};

}  // namespace metafs::extract
