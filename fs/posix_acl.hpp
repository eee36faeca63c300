#pragma once

#include <string>
#include <string_view>

namespace metafs::fs {

// The extended attribute that carries a file's access ACL, in the kernel's binary form
// (little-endian: a version word, then {tag, perm, id} entries).
inline constexpr const char* kAclAccessXattr = "system.posix_acl_access";

// The access ACL of a view entry (a data file's directory X/ and everything in it) from the
// data file's own: every entry keeps only its read permission, and a directory gets search
// permission wherever read is granted, the rule the view's mode bits follow. Tags, ids and
// the order of entries are kept, so named users and groups are denied exactly as in SOURCE.
// Returns false when `source` is not a valid ACL (the caller refuses rather than guesses).
bool derive_view_acl(std::string_view source, bool directory, std::string* out);

}  // namespace metafs::fs
