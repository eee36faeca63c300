#pragma once

#include <fuse_lowlevel.h>
#include <sys/types.h>

#include <vector>

namespace metafs::fs {

// Who sent a request: the process's uid, gid and supplementary groups (fuse_req_ctx and
// fuse_req_getgroups, which reads /proc/<pid>/task/<tid>/status).
struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
};
Caller caller_of(fuse_req_t req);

// The request this thread answers, for the few lookups whose answer depends on who asks
// (/.metafs/query, /.metafs/errors): set for the length of an op_lookup.
class RequestScope {
 public:
  // `listed`: the lookups are of entries of a listing opendir made for this caller (readdirplus).
  explicit RequestScope(fuse_req_t req, bool listed = false);
  ~RequestScope();
  RequestScope(const RequestScope&) = delete;
  RequestScope& operator=(const RequestScope&) = delete;
  // The caller of the current request; without one, an identity that may read nothing
  // (uid and gid -1).
  static Caller caller();
  static bool listed();
};

// While alive, the calling thread's file-system identity is `caller`'s: fsuid, fsgid and
// supplementary groups, set with the per-thread system calls (not glibc's wrappers, which
// change every thread of the process). Changing the fsuid away from 0 also drops the thread's
// file-system capabilities, so the kernel checks what is opened meanwhile, mode bits and ACLs,
// as it would for the caller: no race with a path that changes between the kernel's own
// check and our open can show a file the caller could not open in SOURCE. When this process
// is not root nothing changes (it holds no privilege to lend). Not movable; restores the
// daemon's identity in the destructor.
class AsCaller {
 public:
  explicit AsCaller(const Caller& caller);
  ~AsCaller();
  AsCaller(const AsCaller&) = delete;
  AsCaller& operator=(const AsCaller&) = delete;

  // False when the identity could not be taken on: refuse the access then (EACCES).
  bool ok() const { return ok_; }

 private:
  bool switched_ = false;
  bool ok_ = true;
  uid_t saved_fsuid_ = 0;
  gid_t saved_fsgid_ = 0;
  std::vector<gid_t> saved_groups_;
};

}  // namespace metafs::fs
