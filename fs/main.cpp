// metafs: the daemon's start-up. Everything else lives in the fs library.
#include <malloc.h>

#include "options.hpp"
#include "session.hpp"

int main(int argc, char** argv) {
  // glibc gives each thread that allocates its own arena (up to 8 per CPU), and freed memory
  // stays in the arena it came from: with dozens of FUSE threads building and dropping views,
  // that held 20-30 MiB beyond --memory-limit. Two arenas keep it close to what is in use.
  mallopt(M_ARENA_MAX, 2);
  // A fixed threshold (glibc otherwise raises it after each large free, up to 32 MiB): large
  // buffers (rendered metadata, listings) are mapped on their own and returned when freed,
  // instead of fragmenting the heap.
  mallopt(M_MMAP_THRESHOLD, 64 * 1024);
  int exit_code = 0;
  auto options = metafs::fs::parse_options(argc, argv, &exit_code);
  if (!options) return exit_code;
  return metafs::fs::run_session(*options);
}
