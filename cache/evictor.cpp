#include "evictor.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "lmdb_env.hpp"

namespace metafs::cache {
namespace {

constexpr std::size_t kTimeBytes = 8;
// Per-entry overhead in the three databases (node headers, the access and LRU records).
constexpr std::uint64_t kNodeBytes = 96;

// The oldest `limit` LRU records (time + key), copied out.
std::vector<std::string> oldest(const LmdbTxn& txn, const StoreDbs& dbs, std::size_t limit) {
  std::vector<std::string> out;
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn.get(), dbs.lru, &cursor);
  if (rc != MDB_SUCCESS) throw LmdbError("mdb_cursor_open", rc);
  MDB_val k;
  MDB_val v;
  for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && out.size() < limit;
       rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
    out.emplace_back(to_view(k));
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) throw LmdbError("mdb_cursor_get", rc);
  return out;
}

}  // namespace

std::size_t evict_lru(MDB_env* env, const StoreDbs& dbs, unsigned page_size,
                      const EvictionRequest& request, const TermsOf& terms_of) {
  std::size_t evicted = 0;
  for (;;) {
    LmdbTxn txn = LmdbTxn::write(env);
    StoreUsage usage = store_usage(txn, dbs, page_size);
    if (usage.entries == 0) break;
    if (usage.used_bytes <= request.target_bytes && evicted >= request.min_entries) break;
    std::size_t limit = request.batch;
    if (usage.used_bytes <= request.target_bytes) {
      limit = std::min(limit, request.min_entries - evicted);
    }
    std::vector<std::string> victims = oldest(txn, dbs, limit);
    if (victims.empty()) break;
    // Stop within the batch once the deleted bytes cover the excess: a small map would
    // otherwise lose far more than the watermarks ask for.
    std::uint64_t excess =
        usage.used_bytes > request.target_bytes ? usage.used_bytes - request.target_bytes : 0;
    std::uint64_t freed = 0;
    std::size_t deleted = 0;
    for (const std::string& lru : victims) {
      if (lru.size() <= kTimeBytes) continue;
      if (freed >= excess && evicted + deleted >= request.min_entries) break;
      std::string_view key = std::string_view(lru).substr(kTimeBytes);
      std::vector<std::string> terms;
      if (auto value = txn.find(dbs.entries, key)) {
        freed += key.size() + value->size() + kNodeBytes;
        if (terms_of) terms_of(key, *value, &terms);
      }
      for (const std::string& term : terms) freed += term.size() + key.size() + 16;
      int rc = remove_terms(txn, dbs, key, terms);
      if (rc == MDB_SUCCESS) rc = txn.del(dbs.lru, lru);
      if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND) rc = txn.del(dbs.access, key);
      if (rc == MDB_SUCCESS || rc == MDB_NOTFOUND) rc = txn.del(dbs.entries, key);
      if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) throw LmdbError("eviction", rc);
      ++deleted;
    }
    int rc = txn.commit();
    if (rc != MDB_SUCCESS) throw LmdbError("mdb_txn_commit (eviction)", rc);
    evicted += deleted;
    if (deleted == 0) break;
  }
  return evicted;
}

}  // namespace metafs::cache
