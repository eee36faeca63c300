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

// The boundary of the requests that take no reply (forget, forget_multi): the kernel has
// dropped its references whatever happens here, so anything `body` throws is logged (a
// lookup count left behind costs memory, never a wrong answer) and the caller still ends the
// request with fuse_reply_none.
template <typename Body>
void checked_no_reply(const char* op, Body&& body) noexcept {
  try {
    body();
  } catch (const std::bad_alloc&) {
    // Nothing to log with: the count stays behind.
  } catch (const std::exception& e) {
    log::fs()->error("{}: {}", op, e.what());
  } catch (...) {
    log::fs()->error("{}: unknown exception", op);
  }
}

}  // namespace metafs::fs
