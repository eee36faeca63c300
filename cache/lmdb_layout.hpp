#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lmdb_txn.hpp"
#include "store_index.hpp"

namespace metafs::cache {

// The databases of one store:
//   entries: key -> value
//   access:  key -> last access time (ns since the epoch, 8 bytes big-endian)
//   lru:     access time BE + key -> "" (so a cursor walks entries oldest first)
//   index:   term -> keys (sorted duplicates): the query index, maintained with the entries
//            in the same write transactions (see TermsOf)
// plus a marker in the main database naming the layout version, to tell our file from a
// foreign LMDB file, and the fingerprint of the index's contents (kIndexFingerprintKey).
struct StoreDbs {
  MDB_dbi main = 0;
  MDB_dbi entries = 0;
  MDB_dbi access = 0;
  MDB_dbi lru = 0;
  MDB_dbi index = 0;
};
inline constexpr unsigned kStoreMaxDbs = 5;
// In the main database: what the index holds (the indexer's fingerprint); absent while the
// index is incomplete or dropped.
inline constexpr std::string_view kIndexFingerprintKey = "metafs-query-index";
// Index terms are LMDB keys of a sorted-duplicates database: at most this long.
inline constexpr std::size_t kMaxIndexTermBytes = 511;

enum class LayoutCheck { kOk, kForeign, kOtherVersion };

// Opens (creating in a new file) the databases and checks the marker. Throws LmdbError.
LayoutCheck open_layout(MDB_env* env, StoreDbs* dbs);

// Write-transaction steps; they return MDB_* codes (MDB_MAP_FULL is expected). With
// `terms_of`, the index follows: an old value's terms are removed, `terms` added.
int write_entry(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key, std::string_view value,
                std::uint64_t now_ns, const std::vector<std::string>& terms = {},
                const TermsOf& terms_of = {});
// MDB_SUCCESS also when the entry was absent.
int erase_entry(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key,
                const TermsOf& terms_of = {});
// Index maintenance for one entry; absent pairs are no error.
int add_terms(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key,
              const std::vector<std::string>& terms);
int remove_terms(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key,
                 const std::vector<std::string>& terms);
// Moves an existing entry to the recent end of the LRU order; absent entries are skipped.
int touch_entry(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key, std::uint64_t now_ns);

struct StoreUsage {
  std::uint64_t used_bytes = 0;  // pages held by the B-trees and the meta pages
  std::uint64_t entries = 0;
};
// Throws LmdbError.
StoreUsage store_usage(const LmdbTxn& txn, const StoreDbs& dbs, unsigned page_size);

}  // namespace metafs::cache
