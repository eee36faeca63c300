#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

namespace metafs::shared_tier {

// Who may reach one element of a file's path: its owner, group, mode and access ACL (the
// kernel's binary system.posix_acl_access, empty without one).
struct PathElement {
  uid_t uid = 0;
  gid_t gid = 0;
  mode_t mode = 0;
  std::string acl;
};

// SOURCE's root directory first, then each directory beneath it on the path, the file last:
// what a reader needs search permission on, then read permission on (GUFI keeps the same).
using PathPermissions = std::vector<PathElement>;

// The JSON metafs.files.path_perms holds: [{"u":uid,"g":gid,"m":mode,"a":[[tag,perm,id],...]}]
// ("a" only with an ACL). An ACL that does not decode makes the element's mode 0: no one but
// root passes it, so a damaged ACL never opens a file to anyone.
std::string permissions_json(const PathPermissions& permissions);

// Whether anyone may read the file: every directory searchable and the file readable by its
// owner, its group and others alike, and no ACL anywhere (then no named entry can deny).
bool public_read(const PathPermissions& permissions);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD (PostgreSQL's text takes UTF-8
// only), and whether it was valid.
std::string valid_utf8(std::string_view text, bool* was_valid = nullptr);

// metadata.json as jsonb accepts it: the escape \u0000 (jsonb has no NUL) becomes \ufffd.
std::string jsonb_text(std::string_view json);

}  // namespace metafs::shared_tier
