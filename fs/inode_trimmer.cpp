#include "inode_trimmer.hpp"

#include <malloc.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "log.hpp"

namespace metafs::fs {
namespace {

constexpr auto kCheckEvery = std::chrono::milliseconds(250);
// After asking, the kernel's forgets arrive over the next moments: wait before asking again.
constexpr auto kSettle = std::chrono::seconds(1);
constexpr unsigned kTrimMallocEvery = 8;  // checks (2 s)

}  // namespace

InodeTrimmer::InodeTrimmer(InodeTable& table, std::uint64_t budget_bytes)
    : table_(table), budget_(budget_bytes) {}

InodeTrimmer::~InodeTrimmer() {
  stop();
}

void InodeTrimmer::start(fuse_session* session) {
  if (budget_ == 0 || thread_.running()) return;
  session_ = session;
  thread_.start([this](std::stop_token stop) { run(stop); });
}

void InodeTrimmer::stop() {
  thread_.stop();
}

void InodeTrimmer::run(std::stop_token stop) {
  auto sleep = [&](auto duration) { extraction::BackgroundThread::sleep_for(stop, duration); };
  unsigned ticks = 0;
  while (!stop.stop_requested()) {
    sleep(kCheckEvery);
    // Every few seconds, memory freed (views dropped, inodes forgotten) goes back to the
    // system, not only to malloc's free lists: a few MiB after a long walk.
    if (++ticks % kTrimMallocEvery == 0) ::malloc_trim(0);
    std::uint64_t used = table_.bytes();
    if (used <= budget_ || stop.stop_requested()) continue;
    std::uint64_t target = budget_ / 10 * 8;
    // A copy: the table's lock is not held while the kernel is notified (Invalidator::handle
    // states the rule).
    auto entries = table_.oldest(used - target);
    std::uint64_t asked = 0;
    for (const auto& e : entries) {
      if (stop.stop_requested()) return;
      int rc = fuse_lowlevel_notify_inval_entry(session_, e.parent, e.name.c_str(), e.name.size());
      if (rc == 0 || rc == -ENOENT) {
        ++asked;
      } else if (rc == -EBADF || rc == -ENOTCONN || rc == -ENODEV) {
        return;  // unmounting
      } else {
        log::fs()->debug("trimming inodes: invalidate {}: {}", e.name, std::strerror(-rc));
      }
    }
    trimmed_ += asked;
    // What the kernel's forgets free goes back to the system, not only to malloc's free lists.
    ::malloc_trim(0);
    log::fs()->debug("inode table at {} KiB of {} KiB: asked the kernel to drop {} entries",
                     used >> 10, budget_ >> 10, asked);
    sleep(kSettle);
  }
}

}  // namespace metafs::fs
