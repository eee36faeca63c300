#include "varint.hpp"

namespace metafs::extract {

void put_varint(std::string& out, std::uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void put_bytes(std::string& out, std::string_view bytes) {
  put_varint(out, bytes.size());
  out.append(bytes);
}

void put_u64_be(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

std::uint8_t ByteReader::u8() {
  if (remaining() < 1) throw CodecError("truncated input");
  return static_cast<std::uint8_t>(bytes_[pos_++]);
}

std::uint64_t ByteReader::u64_be() {
  std::string_view b = raw(8, "u64");
  std::uint64_t value = 0;
  for (char c : b) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

std::uint64_t ByteReader::varint() {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    std::uint8_t byte = u8();
    std::uint64_t bits = byte & 0x7f;
    if (shift == 63 && bits > 1) throw CodecError("varint overflows 64 bits");
    value |= bits << shift;
    if ((byte & 0x80) == 0) {
      if (byte == 0 && shift != 0) throw CodecError("overlong varint");
      return value;
    }
  }
  throw CodecError("varint longer than 10 bytes");
}

std::uint64_t ByteReader::varint_max(std::uint64_t max, const char* what) {
  std::uint64_t value = varint();
  if (value > max) throw CodecError(std::string("out-of-range ") + what);
  return value;
}

std::size_t ByteReader::count(std::size_t max, std::size_t min_item_bytes, const char* what) {
  std::uint64_t n = varint();
  if (n > max || n > remaining() / min_item_bytes) {
    throw CodecError(std::string("bad count of ") + what);
  }
  return static_cast<std::size_t>(n);
}

std::string_view ByteReader::bytes(std::size_t max_len, const char* what) {
  std::uint64_t n = varint();
  if (n > max_len) throw CodecError(std::string("oversize ") + what);
  return raw(static_cast<std::size_t>(n), what);
}

std::string_view ByteReader::raw(std::size_t n, const char* what) {
  if (n > remaining()) throw CodecError(std::string("truncated ") + what);
  std::string_view out = bytes_.substr(pos_, n);
  pos_ += n;
  return out;
}

}  // namespace metafs::extract
