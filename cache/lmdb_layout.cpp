#include "lmdb_layout.hpp"

#include <string>

#include "lmdb_env.hpp"
#include "varint.hpp"

namespace metafs::cache {

using extract::put_u64_be;
namespace {

constexpr std::uint64_t kLmdbKeyBytes = 61;  // cache_key.hpp's kLmdbKeySize: a record's key
constexpr std::string_view kMarkerKey = "metafs-cache-layout";
// 2: the index database (a file of layout 1 was written without keeping it).
constexpr std::string_view kMarkerValue = "2";

int open_dbi(LmdbTxn& txn, const char* name, MDB_dbi* dbi) {
  return mdb_dbi_open(txn.get(), name, MDB_CREATE, dbi);
}

std::string time_be(std::uint64_t t) {
  std::string out;
  put_u64_be(out, t);
  return out;
}

std::string lru_key(std::string_view time, std::string_view key) {
  std::string out(time);
  out.append(key);
  return out;
}

}  // namespace

LayoutCheck open_layout(MDB_env* env, StoreDbs* dbs) {
  LmdbTxn txn = LmdbTxn::write(env);
  int rc = mdb_dbi_open(txn.get(), nullptr, 0, &dbs->main);
  if (rc != MDB_SUCCESS) throw LmdbError("mdb_dbi_open (main)", rc);
  auto marker = txn.find(dbs->main, kMarkerKey);
  if (!marker) {
    MDB_stat st;
    rc = mdb_stat(txn.get(), dbs->main, &st);
    if (rc != MDB_SUCCESS) throw LmdbError("mdb_stat", rc);
    if (st.ms_entries != 0) return LayoutCheck::kForeign;
    rc = txn.put(dbs->main, kMarkerKey, kMarkerValue);
    if (rc != MDB_SUCCESS) throw LmdbError("mdb_put (marker)", rc);
  } else if (*marker != kMarkerValue) {
    return LayoutCheck::kOtherVersion;
  }
  for (auto [name, dbi] : {std::pair{"entries", &dbs->entries}, std::pair{"access", &dbs->access},
                           std::pair{"lru", &dbs->lru}}) {
    rc = open_dbi(txn, name, dbi);
    // A marker with our value but a named database that is not one (or is missing) means
    // the file was written by something else.
    if (rc == MDB_INCOMPATIBLE || rc == MDB_NOTFOUND) return LayoutCheck::kForeign;
    if (rc != MDB_SUCCESS) throw LmdbError("mdb_dbi_open", rc);
  }
  rc = mdb_dbi_open(txn.get(), "index", MDB_CREATE | MDB_DUPSORT, &dbs->index);
  if (rc == MDB_INCOMPATIBLE || rc == MDB_NOTFOUND) return LayoutCheck::kForeign;
  if (rc != MDB_SUCCESS) throw LmdbError("mdb_dbi_open (index)", rc);
  rc = txn.commit();
  if (rc != MDB_SUCCESS) throw LmdbError("mdb_txn_commit (layout)", rc);
  return LayoutCheck::kOk;
}

// Removes the index terms of the value `key` holds now, if any.
static int remove_old_terms(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key,
                            const TermsOf& terms_of) {
  if (!terms_of) return MDB_SUCCESS;
  std::vector<std::string> old_terms;
  try {
    auto old = txn.find(dbs.entries, key);
    if (!old) return MDB_SUCCESS;
    terms_of(key, *old, &old_terms);
  } catch (const LmdbError& e) {
    return e.code();
  }
  return remove_terms(txn, dbs, key, old_terms);
}

int write_entry(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key, std::string_view value,
                std::uint64_t now_ns, const std::vector<std::string>& terms,
                const TermsOf& terms_of) {
  int rc = remove_old_terms(txn, dbs, key, terms_of);
  if (rc != MDB_SUCCESS) return rc;
  rc = txn.put(dbs.entries, key, value);
  if (rc != MDB_SUCCESS) return rc;
  if (terms_of) {
    rc = add_terms(txn, dbs, key, terms);
    if (rc != MDB_SUCCESS) return rc;
  }
  return touch_entry(txn, dbs, key, now_ns);
}

int add_terms(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key,
              const std::vector<std::string>& terms) {
  for (const std::string& term : terms) {
    if (term.empty() || term.size() > kMaxIndexTermBytes) continue;
    MDB_val k = to_val(term);
    MDB_val v = to_val(key);
    int rc = mdb_put(txn.get(), dbs.index, &k, &v, MDB_NODUPDATA);
    if (rc != MDB_SUCCESS && rc != MDB_KEYEXIST) return rc;
  }
  return MDB_SUCCESS;
}

int remove_terms(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key,
                 const std::vector<std::string>& terms) {
  for (const std::string& term : terms) {
    if (term.empty() || term.size() > kMaxIndexTermBytes) continue;
    MDB_val k = to_val(term);
    MDB_val v = to_val(key);
    int rc = mdb_del(txn.get(), dbs.index, &k, &v);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return rc;
  }
  return MDB_SUCCESS;
}

int erase_entry(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key, const TermsOf& terms_of) {
  if (int rc = remove_old_terms(txn, dbs, key, terms_of); rc != MDB_SUCCESS) return rc;
  std::optional<std::string_view> old;
  try {
    old = txn.find(dbs.access, key);
  } catch (const LmdbError& e) {
    return e.code();
  }
  if (old) {
    std::string old_lru = lru_key(*old, key);
    int rc = txn.del(dbs.lru, old_lru);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return rc;
    rc = txn.del(dbs.access, key);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return rc;
  }
  int rc = txn.del(dbs.entries, key);
  return rc == MDB_NOTFOUND ? MDB_SUCCESS : rc;
}

int touch_entry(LmdbTxn& txn, const StoreDbs& dbs, std::string_view key, std::uint64_t now_ns) {
  std::optional<std::string_view> old;
  try {
    if (!txn.find(dbs.entries, key)) return MDB_SUCCESS;
    old = txn.find(dbs.access, key);
  } catch (const LmdbError& e) {
    return e.code();
  }
  std::string now = time_be(now_ns);
  if (old) {
    if (*old == now) return MDB_SUCCESS;
    // Copy before the delete: the view points into a page the delete may touch.
    std::string old_lru = lru_key(*old, key);
    int rc = txn.del(dbs.lru, old_lru);
    if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND) return rc;
  }
  int rc = txn.put(dbs.access, key, now);
  if (rc != MDB_SUCCESS) return rc;
  return txn.put(dbs.lru, lru_key(now, key), {});
}

StoreUsage store_usage(const LmdbTxn& txn, const StoreDbs& dbs, unsigned page_size) {
  std::uint64_t pages = 2;  // the two meta pages
  StoreUsage usage;
  for (MDB_dbi dbi : {dbs.main, dbs.entries, dbs.access, dbs.lru, dbs.index}) {
    MDB_stat st;
    int rc = mdb_stat(txn.get(), dbi, &st);
    if (rc != MDB_SUCCESS) throw LmdbError("mdb_stat", rc);
    pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    if (dbi == dbs.entries) usage.entries = st.ms_entries;
    // mdb_stat leaves out the pages of sorted duplicates (each term's own tree of record
    // keys): count them by their pairs, a key and a node header each, pages 5/8 full (keys
    // arrive in random order; measured: 110 bytes a pair over 29 M pairs, 10^6 data files).
    if (dbi == dbs.index) pages += st.ms_entries * (kLmdbKeyBytes + 8) * 8 / 5 / page_size;
  }
  usage.used_bytes = pages * page_size;
  return usage;
}

}  // namespace metafs::cache
