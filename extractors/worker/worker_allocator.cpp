#include "worker_allocator.hpp"

#include <malloc.h>

#include <string_view>

namespace metafs::extract::worker {

void tune_allocator() {
  // mallopt returns 0 only for an unknown parameter or a value glibc refuses; the defaults
  // then stay, which costs time, not correctness.
  (void)::mallopt(M_MMAP_THRESHOLD, 4 << 20);
  (void)::mallopt(M_TRIM_THRESHOLD, 8 << 20);
  (void)::mallopt(M_TOP_PAD, 1 << 20);
}

std::string worker_tunables(const char* inherited) {
  std::string_view own = inherited != nullptr ? inherited : "";
  if (own.find("glibc.malloc.tcache_count=") != std::string_view::npos) return std::string(own);
  std::string tunables(own);
  if (!tunables.empty()) tunables += ':';
  return tunables += kMallocTunables;
}

}  // namespace metafs::extract::worker
