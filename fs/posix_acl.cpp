#include "posix_acl.hpp"

#include <cstdint>

namespace metafs::fs {
namespace {

// <linux/posix_acl_xattr.h>: a 4-byte header, then 8-byte entries.
constexpr std::uint32_t kAclVersion = 2;
constexpr std::size_t kHeaderSize = 4;
constexpr std::size_t kEntrySize = 8;
constexpr std::size_t kPermOffset = 2;  // e_tag (2 bytes), e_perm (2 bytes), e_id (4 bytes)
constexpr std::uint16_t kRead = 4;
constexpr std::uint16_t kExecute = 1;

std::uint32_t le32(std::string_view bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    value |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return value;
}

}  // namespace

bool derive_view_acl(std::string_view source, bool directory, std::string* out) {
  if (source.size() < kHeaderSize || (source.size() - kHeaderSize) % kEntrySize != 0 ||
      le32(source, 0) != kAclVersion) {
    return false;
  }
  std::string acl(source);
  for (std::size_t at = kHeaderSize; at < acl.size(); at += kEntrySize) {
    auto perm = static_cast<std::uint16_t>(static_cast<unsigned char>(acl[at + kPermOffset]));
    perm &= kRead;
    if (directory && perm != 0) perm |= kExecute;
    acl[at + kPermOffset] = static_cast<char>(perm);
    acl[at + kPermOffset + 1] = 0;
  }
  *out = std::move(acl);
  return true;
}

}  // namespace metafs::fs
