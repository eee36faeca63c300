#pragma once

#include <lmdb.h>

#include <optional>
#include <string_view>

namespace metafs::cache {

// A move-only LMDB transaction that aborts in its destructor unless committed. Views
// returned by get() point into the map and die with the transaction: copy them out.
class LmdbTxn {
 public:
  // Throws LmdbError when the transaction cannot begin (MDB_READERS_FULL, MDB_MAP_RESIZED, ...).
  static LmdbTxn read(MDB_env* env);
  static LmdbTxn write(MDB_env* env);

  ~LmdbTxn() { abort(); }
  LmdbTxn(LmdbTxn&& other) noexcept : txn_(other.txn_) { other.txn_ = nullptr; }
  LmdbTxn& operator=(LmdbTxn&&) = delete;
  LmdbTxn(const LmdbTxn&) = delete;
  LmdbTxn& operator=(const LmdbTxn&) = delete;

  MDB_txn* get() const { return txn_; }

  // The value of `key`, std::nullopt when absent. Throws LmdbError for other failures.
  std::optional<std::string_view> find(MDB_dbi dbi, std::string_view key) const;
  // MDB_* return codes, so callers can react to MDB_MAP_FULL without exceptions.
  int put(MDB_dbi dbi, std::string_view key, std::string_view value);
  int del(MDB_dbi dbi, std::string_view key);

  // Returns the mdb_txn_commit code; the transaction is finished either way.
  int commit();
  void abort();

 private:
  explicit LmdbTxn(MDB_txn* txn) : txn_(txn) {}
  MDB_txn* txn_;
};

inline MDB_val to_val(std::string_view s) {
  return MDB_val{s.size(), const_cast<char*>(s.data())};
}
inline std::string_view to_view(const MDB_val& v) {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

}  // namespace metafs::cache
