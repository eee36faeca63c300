#pragma once

#include <new>
#include <system_error>

#include "filesystem.hpp"
#include "log.hpp"

namespace metafs::fs {

inline Filesystem& filesystem_of(fuse_req_t req) {
  return *static_cast<Filesystem*>(fuse_req_userdata(req));
}

// The one boundary where exceptions become errno replies: `body` replies itself on success;
// anything it throws is answered here (bad_alloc: ENOMEM, system_error: its code, anything
// else: EIO and a log line). Exceptions never reach libfuse.
template <typename Body>
void checked(fuse_req_t req, const char* op, Body&& body) noexcept {
  try {
    body();
    return;
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  } catch (const std::system_error& e) {
    log::fs()->error("{}: {}", op, e.what());
    fuse_reply_err(req, e.code().value() > 0 ? e.code().value() : EIO);
  } catch (const std::exception& e) {
    log::fs()->error("{}: {}", op, e.what());
    fuse_reply_err(req, EIO);
  } catch (...) {
    log::fs()->error("{}: unknown exception", op);
    fuse_reply_err(req, EIO);
  }
}

}  // namespace metafs::fs
