#include "caller_credentials.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace metafs::fs {
namespace {

// The raw system calls act on the calling thread only.
long thread_setgroups(const std::vector<gid_t>& groups) {
  return ::syscall(SYS_setgroups, groups.size(), groups.empty() ? nullptr : groups.data());
}
uid_t thread_setfsuid(uid_t uid) {
  return static_cast<uid_t>(::syscall(SYS_setfsuid, uid));
}
gid_t thread_setfsgid(gid_t gid) {
  return static_cast<gid_t>(::syscall(SYS_setfsgid, gid));
}

}  // namespace

Caller caller_of(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  Caller caller{ctx->uid, ctx->gid, {}};
  std::vector<gid_t> groups(64);
  for (;;) {
    int n = fuse_req_getgroups(req, static_cast<int>(groups.size()), groups.data());
    if (n < 0) break;  // unknown: no supplementary groups, which can only refuse more
    if (static_cast<std::size_t>(n) <= groups.size()) {
      groups.resize(static_cast<std::size_t>(n));
      caller.groups = std::move(groups);
      break;
    }
    groups.resize(static_cast<std::size_t>(n));
  }
  return caller;
}

namespace {
thread_local fuse_req_t current_request = nullptr;
thread_local bool current_listed = false;
}  // namespace

RequestScope::RequestScope(fuse_req_t req, bool listed) {
  current_request = req;
  current_listed = listed;
}

RequestScope::~RequestScope() {
  current_request = nullptr;
  current_listed = false;
}

bool RequestScope::listed() {
  return current_listed;
}

Caller RequestScope::caller() {
  if (current_request == nullptr) {
    return Caller{static_cast<uid_t>(-1), static_cast<gid_t>(-1), {}};
  }
  return caller_of(current_request);
}

AsCaller::AsCaller(const Caller& caller) {
  if (::geteuid() != 0) return;
  int count = ::getgroups(0, nullptr);
  if (count > 0) {
    saved_groups_.resize(static_cast<std::size_t>(count));
    count = ::getgroups(count, saved_groups_.data());
    saved_groups_.resize(static_cast<std::size_t>(std::max(count, 0)));
  }
  switched_ = true;
  // setfsuid/setfsgid return the previous value whether or not they succeed: ask again.
  saved_fsgid_ = thread_setfsgid(static_cast<gid_t>(-1));
  saved_fsuid_ = thread_setfsuid(static_cast<uid_t>(-1));
  ok_ = thread_setgroups(caller.groups) == 0;
  thread_setfsgid(caller.gid);
  thread_setfsuid(caller.uid);
  ok_ = ok_ && thread_setfsgid(static_cast<gid_t>(-1)) == caller.gid &&
        thread_setfsuid(static_cast<uid_t>(-1)) == caller.uid;
}

AsCaller::~AsCaller() {
  if (!switched_) return;
  // The uid first: it brings back the capabilities that setting the rest needs.
  thread_setfsuid(saved_fsuid_);
  thread_setfsgid(saved_fsgid_);
  thread_setgroups(saved_groups_);
}

}  // namespace metafs::fs
