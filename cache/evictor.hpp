#pragma once

#include <cstddef>
#include <cstdint>

#include "lmdb_layout.hpp"

namespace metafs::cache {

struct EvictionRequest {
  std::uint64_t target_bytes = 0;  // stop once usage is at or below this...
  std::size_t min_entries = 0;     // ...and at least this many entries are gone
  std::size_t batch = 64;          // deletions per write transaction
};

// Deletes least-recently-used entries, oldest first, in write transactions of at most
// `batch` deletions each (so readers and the next batch of puts never wait long), until the
// request is met or the store is empty. Returns how many entries were deleted. Must run on
// the store's one writer thread. Throws LmdbError (MDB_MAP_FULL when even a deletion finds
// no free page).
// With `terms_of`, each evicted entry's index terms go in the same transaction.
std::size_t evict_lru(MDB_env* env, const StoreDbs& dbs, unsigned page_size,
                      const EvictionRequest& request, const TermsOf& terms_of = {});

}  // namespace metafs::cache
