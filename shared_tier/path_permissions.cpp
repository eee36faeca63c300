#include "shared_tier/path_permissions.hpp"

#include <cstdint>

namespace metafs::shared_tier {
namespace {

// The kernel's ACL xattr: a little-endian version word (2), then {u16 tag, u16 perm, u32 id}.
constexpr std::uint32_t kAclVersion = 2;
constexpr std::size_t kAclHeader = 4;
constexpr std::size_t kAclEntry = 8;

std::uint32_t little_endian(std::string_view bytes, std::size_t at, std::size_t width) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    value |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
  }
  return value;
}

// The ACL's entries as JSON, or "" when it is not a valid ACL.
std::string acl_json(std::string_view acl) {
  if (acl.size() < kAclHeader || (acl.size() - kAclHeader) % kAclEntry != 0 ||
      little_endian(acl, 0, 4) != kAclVersion) {
    return {};
  }
  std::string out = "[";
  for (std::size_t at = kAclHeader; at < acl.size(); at += kAclEntry) {
    if (at > kAclHeader) out += ',';
    out += '[' + std::to_string(little_endian(acl, at, 2)) + ',' +
           std::to_string(little_endian(acl, at + 2, 2)) + ',' +
           std::to_string(little_endian(acl, at + 4, 4)) + ']';
  }
  return out + "]";
}

}  // namespace

std::string permissions_json(const PathPermissions& permissions) {
  std::string out = "[";
  for (const PathElement& element : permissions) {
    if (out.size() > 1) out += ',';
    out += "{\"u\":" + std::to_string(element.uid) + ",\"g\":" + std::to_string(element.gid);
    if (element.acl.empty()) {
      out += ",\"m\":" + std::to_string(element.mode & 07777) + '}';
      continue;
    }
    std::string acl = acl_json(element.acl);
    if (acl.empty()) {
      out += ",\"m\":0}";
      continue;
    }
    out += ",\"m\":" + std::to_string(element.mode & 07777) + ",\"a\":" + acl + '}';
  }
  return out + "]";
}

bool public_read(const PathPermissions& permissions) {
  if (permissions.empty()) return false;
  for (std::size_t i = 0; i < permissions.size(); ++i) {
    const PathElement& e = permissions[i];
    mode_t want = i + 1 == permissions.size() ? 4 : 1;
    // The owner and group classes are exclusive in POSIX: each must have it, not only others.
    bool everyone = (e.mode & want) && ((e.mode >> 3) & want) && ((e.mode >> 6) & want);
    if (!e.acl.empty() || !everyone) return false;
  }
  return true;
}

std::string valid_utf8(std::string_view text, bool* was_valid) {
  std::string out;
  out.reserve(text.size());
  bool valid = true;
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t length = c < 0x80         ? 1
                         : (c >> 5) == 6  ? 2
                         : (c >> 4) == 14 ? 3
                         : (c >> 3) == 30 ? 4
                                          : 0;
    bool ok = length > 0 && i + length <= text.size() && c != 0;
    for (std::size_t k = 1; ok && k < length; ++k) {
      ok = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    }
    if (ok && length > 1) {
      // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 either.
      std::uint32_t cp = c & (0x7F >> length);
      for (std::size_t k = 1; k < length; ++k) {
        cp = (cp << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
      }
      static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      ok = cp >= kMin[length] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    }
    if (ok) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      valid = false;
      ++i;
    }
  }
  if (was_valid) *was_valid = valid;
  return out;
}

std::string jsonb_text(std::string_view json) {
  std::string out;
  out.reserve(json.size());
  for (std::size_t i = 0; i < json.size(); ++i) {
    if (json[i] != '\\' || i + 1 >= json.size()) {
      out += json[i];
      continue;
    }
    // An escape: two characters at least, taken together so "\\u0000" stays as it is.
    if (json.substr(i, 6) == "\\u0000") {
      out += "\\ufffd";
      i += 5;
    } else {
      out += json[i];
      out += json[i + 1];
      ++i;
    }
  }
  return out;
}

}  // namespace metafs::shared_tier
