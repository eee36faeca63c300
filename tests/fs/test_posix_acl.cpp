// A view's ACL from its data file's: read kept, search added to directories where read is
// granted, everything else dropped; tags, ids and order unchanged.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "posix_acl.hpp"

using metafs::fs::derive_view_acl;

namespace {

struct AclEntry {
  std::uint16_t tag;
  std::uint16_t perm;
  std::uint32_t id;
};

// <linux/posix_acl_xattr.h> tags.
constexpr std::uint16_t kUserObj = 0x01, kUser = 0x02, kGroupObj = 0x04, kMask = 0x10,
                        kOther = 0x20;
constexpr std::uint32_t kUndefinedId = 0xffffffff;

void put_le(std::string* out, std::uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

std::string encode(const std::vector<AclEntry>& entries, std::uint32_t version = 2) {
  std::string out;
  put_le(&out, version, 4);
  for (const AclEntry& e : entries) {
    put_le(&out, e.tag, 2);
    put_le(&out, e.perm, 2);
    put_le(&out, e.id, 4);
  }
  return out;
}

// rw- for the owner, a user denied, a user granted rwx, group r--, mask rwx, other r--.
const std::vector<AclEntry> kSource = {
    {kUserObj, 6, kUndefinedId},  {kUser, 0, 1001},         {kUser, 7, 1002},
    {kGroupObj, 4, kUndefinedId}, {kMask, 7, kUndefinedId}, {kOther, 4, kUndefinedId}};

}  // namespace

TEST(PosixAcl, FilesKeepOnlyRead) {
  std::string out;
  ASSERT_TRUE(derive_view_acl(encode(kSource), false, &out));
  EXPECT_EQ(out, encode({{kUserObj, 4, kUndefinedId},
                         {kUser, 0, 1001},
                         {kUser, 4, 1002},
                         {kGroupObj, 4, kUndefinedId},
                         {kMask, 4, kUndefinedId},
                         {kOther, 4, kUndefinedId}}));
}

TEST(PosixAcl, DirectoriesGetSearchWhereReadIsGranted) {
  std::string out;
  ASSERT_TRUE(derive_view_acl(encode(kSource), true, &out));
  EXPECT_EQ(out, encode({{kUserObj, 5, kUndefinedId},
                         {kUser, 0, 1001},
                         {kUser, 5, 1002},
                         {kGroupObj, 5, kUndefinedId},
                         {kMask, 5, kUndefinedId},
                         {kOther, 5, kUndefinedId}}));
  // Write or search alone, without read, give nothing.
  ASSERT_TRUE(derive_view_acl(
      encode(
          {{kUserObj, 6, kUndefinedId}, {kGroupObj, 1, kUndefinedId}, {kOther, 2, kUndefinedId}}),
      true, &out));
  EXPECT_EQ(out, encode({{kUserObj, 5, kUndefinedId},
                         {kGroupObj, 0, kUndefinedId},
                         {kOther, 0, kUndefinedId}}));
}

TEST(PosixAcl, AnythingButAVersion2AclIsRefused) {
  std::string out = "untouched";
  EXPECT_FALSE(derive_view_acl("", false, &out));
  EXPECT_FALSE(derive_view_acl(std::string("\x02\x00\x00", 3), false, &out));
  EXPECT_FALSE(derive_view_acl(encode(kSource, 1), false, &out));
  EXPECT_FALSE(derive_view_acl(encode(kSource) + "x", false, &out));
  EXPECT_EQ(out, "untouched");
  EXPECT_TRUE(derive_view_acl(encode({}), false, &out));  // a header alone is well-formed
}
