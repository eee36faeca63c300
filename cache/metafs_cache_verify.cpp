// metafs-cache-verify DIR: reads every record of DIR/data.mdb, so that a damaged file crashes
// this process rather than the daemon. The daemon runs it before trusting a store left open
// by an unclean stop (see store_verifier.hpp). Exit 0: every B-tree walked; 1: LMDB reported
// damage (one line on stdout says what); 2: wrong arguments. A fault in a damaged page ends
// it by a signal.
#include <lmdb.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr unsigned kMaxDbs = 64;

struct Failure {
  std::string what;
  int rc;
};

// Reads every byte of every key and value (overflow pages included), so that a page past
// the end of the file or a wild pointer faults here.
void walk(MDB_txn* txn, MDB_dbi dbi, const char* name, std::vector<std::string>* sub_dbs) {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn, dbi, &cursor);
  if (rc != MDB_SUCCESS) throw Failure{std::string("cursor on ") + name, rc};
  MDB_val key, value;
  volatile unsigned char sink = 0;
  for (rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST); rc == MDB_SUCCESS;
       rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
    unsigned char sum = 0;
    for (const MDB_val& v : {key, value}) {
      const auto* bytes = static_cast<const unsigned char*>(v.mv_data);
      for (std::size_t i = 0; i < v.mv_size; ++i) sum = static_cast<unsigned char>(sum + bytes[i]);
    }
    sink = static_cast<unsigned char>(sink + sum);
    if (sub_dbs != nullptr && key.mv_size > 0 &&
        std::memchr(key.mv_data, 0, key.mv_size) == nullptr) {
      sub_dbs->emplace_back(static_cast<const char*>(key.mv_data), key.mv_size);
    }
  }
  mdb_cursor_close(cursor);
  if (rc != MDB_NOTFOUND) throw Failure{std::string("walk of ") + name, rc};
}

void verify(const char* dir) {
  MDB_env* env = nullptr;
  int rc = mdb_env_create(&env);
  if (rc != MDB_SUCCESS) throw Failure{"mdb_env_create", rc};
  mdb_env_set_maxdbs(env, kMaxDbs);
  // No lock file: the daemon holds the store's marker exclusively, nobody writes meanwhile.
  rc = mdb_env_open(env, dir, MDB_RDONLY | MDB_NOLOCK | MDB_NORDAHEAD, 0600);
  if (rc != MDB_SUCCESS) throw Failure{"mdb_env_open", rc};
  MDB_txn* txn = nullptr;
  rc = mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn);
  if (rc != MDB_SUCCESS) throw Failure{"mdb_txn_begin", rc};
  walk(txn, 0, "the free list", nullptr);
  MDB_dbi main_dbi;
  rc = mdb_dbi_open(txn, nullptr, 0, &main_dbi);
  if (rc != MDB_SUCCESS) throw Failure{"mdb_dbi_open (main)", rc};
  std::vector<std::string> names;
  walk(txn, main_dbi, "the main database", &names);
  for (const std::string& name : names) {
    MDB_dbi dbi;
    rc = mdb_dbi_open(txn, name.c_str(), 0, &dbi);
    if (rc == MDB_INCOMPATIBLE) continue;  // a plain record, not a named database
    if (rc != MDB_SUCCESS) throw Failure{"mdb_dbi_open (" + name + ")", rc};
    walk(txn, dbi, name.c_str(), nullptr);
  }
  mdb_txn_abort(txn);
  mdb_env_close(env);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: metafs-cache-verify DIR (the directory holding data.mdb)\n");
    return 2;
  }
  try {
    verify(argv[1]);
  } catch (const Failure& f) {
    std::printf("%s: %s\n", f.what.c_str(), mdb_strerror(f.rc));
    return 1;
  }
  return 0;
}
