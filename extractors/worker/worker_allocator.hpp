#pragma once

#include <string>

namespace metafs::extract::worker {

// Sets glibc malloc's trimming for a worker's pattern of allocations (mallopt(3)): each file
// allocates and frees the same few MB again (CFITSIO's 115 KB I/O buffer per opened file, three
// memory files for a tile-compressed image, DCMTK's dataset, HDF5's metadata cache). With
// glibc's default thresholds a process returns the heap's free top to the kernel after such a
// file and faults it in again, zeroed, for the next: a third of a compressed image's
// extraction in floor_metafs. Workers were spared only by accident (their warm-up freed a large
// mapped block, which raises glibc's sliding thresholds). Now explicit: a worker keeps up to
// 8 MiB of free heap (M_TRIM_THRESHOLD), grows it 1 MiB at a time (M_TOP_PAD) and maps blocks
// from 4 MiB on separately (M_MMAP_THRESHOLD, fixed: setting the trim threshold turns the
// sliding one off). Its memory stays bounded by RLIMIT_DATA, and it is replaced after
// --worker-recycle files. Call once, before any thread; floor_metafs --worker calls it too.
void tune_allocator();

// What mallopt cannot set: glibc reads its tunables (GLIBC_TUNABLES, tunables(7)) once, when a
// process starts, so the daemon gives them to each worker it spawns. A worker frees all of a
// file's small blocks (tree nodes, names, values, DCMTK's elements) and allocates as many
// again for the next; glibc's thread cache keeps 7 blocks of each size and sends the rest to
// its fast bins, which every larger request then consolidates, a cache miss per block.
// Keeping up to 2048 of each size reuses them directly: DICOM extraction 264 -> 238 us per
// file, netCDF 796 -> 763 (floor_metafs --worker, the corpus), the same peak memory for
// DICOM and FITS, 7 MB more for netCDF-4.
inline constexpr char kMallocTunables[] = "glibc.malloc.tcache_count=2048";

// The GLIBC_TUNABLES value a worker starts with: `inherited` (the daemon's own, may be null)
// with kMallocTunables added, unless `inherited` sets the thread cache itself (an
// administrator's setting wins).
std::string worker_tunables(const char* inherited);

}  // namespace metafs::extract::worker
