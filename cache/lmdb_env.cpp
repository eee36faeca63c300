#include "lmdb_env.hpp"

namespace metafs::cache {
namespace {

constexpr unsigned kMaxReaders = 512;

void check(int rc, const char* what) {
  if (rc != MDB_SUCCESS) throw LmdbError(what, rc);
}

}  // namespace

LmdbError::LmdbError(const std::string& what, int code)
    : std::runtime_error(what + ": " + mdb_strerror(code)), code_(code) {}

bool is_corruption(int code) {
  return code == MDB_INVALID || code == MDB_VERSION_MISMATCH || code == MDB_CORRUPTED ||
         code == MDB_PAGE_NOTFOUND || code == MDB_INCOMPATIBLE || code == MDB_BAD_TXN;
}

LmdbEnv::LmdbEnv(const std::filesystem::path& dir, std::uint64_t map_size, unsigned max_dbs) {
  check(mdb_env_create(&env_), "mdb_env_create");
  try {
    check(mdb_env_set_mapsize(env_, map_size), "mdb_env_set_mapsize");
    check(mdb_env_set_maxdbs(env_, max_dbs), "mdb_env_set_maxdbs");
    check(mdb_env_set_maxreaders(env_, kMaxReaders), "mdb_env_set_maxreaders");
    check(mdb_env_open(env_, dir.c_str(), MDB_NOTLS | MDB_NORDAHEAD | MDB_NOMETASYNC, 0600),
          "mdb_env_open");
    check(mdb_reader_check(env_, &stale_readers_), "mdb_reader_check");
  } catch (...) {
    mdb_env_close(env_);
    env_ = nullptr;
    throw;
  }
}

LmdbEnv::~LmdbEnv() {
  if (env_ != nullptr) mdb_env_close(env_);
}

std::uint64_t LmdbEnv::map_size() const {
  MDB_envinfo info;
  mdb_env_info(env_, &info);
  return info.me_mapsize;
}

unsigned LmdbEnv::page_size() const {
  MDB_stat st;
  mdb_env_stat(env_, &st);
  return st.ms_psize;
}

std::string lmdb_library_version() {
  int major = 0, minor = 0, patch = 0;
  mdb_version(&major, &minor, &patch);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace metafs::cache
