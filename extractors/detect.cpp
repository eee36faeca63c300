#include "detect.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <string>

namespace metafs::extract {
namespace {

constexpr std::size_t kPrefixBytes = 4096;
constexpr std::string_view kHdf5Magic{"\x89HDF\r\n\x1a\n", 8};
// User blocks are powers of two from 512; past this the file is not looked at further.
constexpr std::uint64_t kMaxUserBlock = std::uint64_t{1} << 20;

std::string lower_extension(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool has_hdf5_extension(std::string_view name) {
  for (std::string_view ext : {".h5", ".hdf5", ".he5", ".hdf", ".nc", ".nc4", ".cdf", ".mat"}) {
    if (ends_with(name, ext)) return true;
  }
  return false;
}

bool is_fits_start(std::string_view bytes) {
  return bytes.starts_with("SIMPLE  =");
}

// Inflates the start of a gzip stream and checks for a FITS primary header.
bool is_gzipped_fits(std::string_view prefix) {
  if (prefix.size() < 18 || static_cast<unsigned char>(prefix[0]) != 0x1f ||
      static_cast<unsigned char>(prefix[1]) != 0x8b) {
    return false;
  }
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) return false;
  std::array<char, 16> out{};
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(prefix.data()));
  stream.avail_in = static_cast<uInt>(prefix.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&stream, Z_SYNC_FLUSH);
  std::size_t produced = out.size() - stream.avail_out;
  inflateEnd(&stream);
  if (rc != Z_OK && rc != Z_STREAM_END) return false;
  return is_fits_start(std::string_view(out.data(), produced));
}

bool is_dicom_vr(char a, char b) {
  static constexpr std::string_view kVrs[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD",
                                              "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV", "OW",
                                              "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC",
                                              "UI", "UL", "UN", "UR", "US", "UT", "UV"};
  for (auto vr : kVrs) {
    if (vr[0] == a && vr[1] == b) return true;
  }
  return false;
}

std::uint16_t le16(std::string_view s, std::size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(s[at]) |
                                    (static_cast<unsigned char>(s[at + 1]) << 8));
}

std::uint32_t le32(std::string_view s, std::size_t at) {
  return static_cast<std::uint32_t>(le16(s, at)) |
         (static_cast<std::uint32_t>(le16(s, at + 2)) << 16);
}

std::uint16_t be16(std::string_view s, std::size_t at) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(s[at]) << 8) |
                                    static_cast<unsigned char>(s[at + 1]));
}

// A DICOM dataset without preamble (ACR-NEMA style or a bare dataset): the first element is
// in group 0002 or 0008 and is well formed as explicit or implicit VR little endian, or (group
// 0008 only: the file meta group is always little endian) explicit VR big endian.
bool is_bare_dicom(std::string_view prefix, std::uint64_t file_size) {
  if (prefix.size() < 12) return false;
  if (be16(prefix, 0) == 0x0008 && be16(prefix, 2) <= 0x0020 && is_dicom_vr(prefix[4], prefix[5])) {
    return true;
  }
  std::uint16_t group = le16(prefix, 0);
  std::uint16_t element = le16(prefix, 2);
  if (group != 0x0002 && group != 0x0008) return false;
  if (element > 0x0020) return false;  // the first element of a group comes early
  if (is_dicom_vr(prefix[4], prefix[5])) return true;
  // Implicit VR: a 32-bit length that fits the file, then another element of the same group.
  std::uint32_t length = le32(prefix, 4);
  if (length > file_size || 8 + std::uint64_t{length} + 4 > prefix.size()) return false;
  std::uint16_t next_group = le16(prefix, 8 + length);
  return next_group == group;
}

}  // namespace

Format detect_format_prefix(std::string_view prefix, std::string_view file_name,
                            std::uint64_t file_size) {
  if (prefix.size() >= 132 && prefix.substr(128, 4) == "DICM") return Format::kDicom;
  if (is_fits_start(prefix)) return Format::kFits;
  if (prefix.size() >= 4 && prefix.substr(0, 3) == "CDF" &&
      (prefix[3] == '\x01' || prefix[3] == '\x02' || prefix[3] == '\x05')) {
    return Format::kNetcdf;
  }
  if (prefix.starts_with(kHdf5Magic)) return Format::kHdf5;
  for (std::uint64_t at = 512; at + kHdf5Magic.size() <= prefix.size(); at *= 2) {
    if (prefix.substr(at, kHdf5Magic.size()) == kHdf5Magic) return Format::kHdf5;
  }
  if (is_gzipped_fits(prefix)) return Format::kFits;
  std::string name = lower_extension(file_name);
  if ((ends_with(name, ".dcm") || ends_with(name, ".dicom") ||
       name.find('.') == std::string::npos) &&
      is_bare_dicom(prefix, file_size)) {
    return Format::kDicom;
  }
  return Format::kNone;
}

Format detect_format(int fd, std::string_view file_name, std::uint64_t file_size) {
  std::array<char, kPrefixBytes> buffer;
  ssize_t got = ::pread(fd, buffer.data(), buffer.size(), 0);
  if (got <= 0) return Format::kNone;
  std::string_view prefix(buffer.data(), static_cast<std::size_t>(got));
  Format format = detect_format_prefix(prefix, file_name, file_size);
  if (format != Format::kNone) return format;
  // An HDF5 user block larger than the prefix: probe the signature at each power of two, but
  // only where the name suggests HDF5, so listing other files reads nothing past the prefix.
  if (!has_hdf5_extension(lower_extension(file_name))) return Format::kNone;
  for (std::uint64_t at = kPrefixBytes; at <= kMaxUserBlock && at + 8 <= file_size; at *= 2) {
    std::array<char, 8> magic;
    if (::pread(fd, magic.data(), magic.size(), static_cast<off_t>(at)) != 8) break;
    if (std::string_view(magic.data(), magic.size()) == kHdf5Magic) return Format::kHdf5;
  }
  return Format::kNone;
}

}  // namespace metafs::extract
