#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string_view>

#include "lmdb_txn.hpp"

namespace metafs::cache {

// The databases of one store:
//   entries: key -> value
//   access:  key -> last access time (ns since the epoch, 8 bytes big-endian)
//   lru:     access time BE + key -> "" (so a cursor walks entries oldest first)
// plus a marker in the main database naming the layout version, to tell our file from a
// foreign LMDB file.
struct StoreDbs {
  MDB_dbi main = 0;
  MDB_dbi entries = 0;
  MDB_dbi access = 0;
  MDB_dbi lru = 0;
};
inline constexpr unsigned kStoreMaxDbs = 4;

enum class LayoutCheck { kOk, kForeign, kOtherVersion };

// Opens (creating in a new file) the databases and checks the marker. Throws LmdbError.
LayoutCheck open_layout(MDB_env* env, StoreDbs* dbs);

// Write-transaction steps; they return MDB_* codes (MDB_MAP_FULL is expected).
int write_entry(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key, std::string_view value,
                std::uint64_t now_ns);
// MDB_SUCCESS also when the entry was absent.
int erase_entry(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key);
// Moves an existing entry to the recent end of the LRU order; absent entries are skipped.
int touch_entry(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key, std::uint64_t now_ns);

struct StoreUsage {
  std::uint64_t used_bytes = 0;  // pages held by the B-trees and the meta pages
  std::uint64_t entries = 0;
};
// Throws LmdbError.
StoreUsage store_usage(const LmdbTxn& txn, const StoreDbs& dbs, unsigned page_size);

}  // namespace metafs::cache
