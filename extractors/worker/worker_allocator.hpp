#pragma once

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

}  // namespace metafs::extract::worker
