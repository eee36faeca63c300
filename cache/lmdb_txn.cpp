#include "lmdb_txn.hpp"

#include "lmdb_env.hpp"

namespace metafs::cache {

LmdbTxn LmdbTxn::read(MDB_env* env) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  if (rc != MDB_SUCCESS) throw LmdbError("mdb_txn_begin (read)", rc);
  return LmdbTxn(txn);
}

LmdbTxn LmdbTxn::write(MDB_env* env) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env, nullptr, 0, &txn);
  if (rc != MDB_SUCCESS) throw LmdbError("mdb_txn_begin (write)", rc);
  return LmdbTxn(txn);
}

std::optional<std::string_view> LmdbTxn::find(MDB_dbi dbi, std::string_view key) const {
  MDB_val k = to_val(key);
  MDB_val v;
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != MDB_SUCCESS) throw LmdbError("mdb_get", rc);
  return to_view(v);
}

int LmdbTxn::put(MDB_dbi dbi, std::string_view key, std::string_view value) {
  MDB_val k = to_val(key);
  MDB_val v = to_val(value);
  return mdb_put(txn_, dbi, &k, &v, 0);
}

int LmdbTxn::del(MDB_dbi dbi, std::string_view key) {
  MDB_val k = to_val(key);
  return mdb_del(txn_, dbi, &k, nullptr);
}

int LmdbTxn::commit() {
  MDB_txn* txn = txn_;
  txn_ = nullptr;
  return mdb_txn_commit(txn);
}

void LmdbTxn::abort() {
  if (txn_ != nullptr) mdb_txn_abort(txn_);
  txn_ = nullptr;
}

}  // namespace metafs::cache
