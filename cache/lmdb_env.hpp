#pragma once

#include <lmdb.h>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace metafs::cache {

// An LMDB return code as an exception; code() is the MDB_* or errno value.
class LmdbError : public std::runtime_error {
 public:
  LmdbError(const std::string& what, int code);
  int code() const { return code_; }

 private:
  int code_;
};

// The LMDB library's version ("0.9.24", from mdb_version()).
std::string lmdb_library_version();

// True for the codes that mean the file itself is damaged or not an LMDB file of ours.
bool is_corruption(int code);

// One open LMDB environment (data.mdb + lock.mdb in a directory). Move-only; closes on
// destruction. Opened with MDB_NOTLS (read transactions are not bound to threads),
// MDB_NORDAHEAD (random access into a large map) and MDB_NOMETASYNC (a system crash may
// lose the last commits, never corrupt the file: right for a cache).
class LmdbEnv {
 public:
  // Opens or creates `dir`/data.mdb with a map of exactly `map_size` bytes (a multiple of the
  // page size), then clears reader slots of dead processes. Precondition: `dir` exists.
  // Throws LmdbError (MDB_INVALID / MDB_VERSION_MISMATCH for a foreign file, errno values
  // such as EACCES for an unusable directory).
  LmdbEnv(const std::filesystem::path& dir, std::uint64_t map_size, unsigned max_dbs);
  ~LmdbEnv();
  LmdbEnv(LmdbEnv&& other) noexcept : env_(other.env_) { other.env_ = nullptr; }
  LmdbEnv& operator=(LmdbEnv&&) = delete;
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;

  MDB_env* get() const { return env_; }
  std::uint64_t map_size() const;
  unsigned page_size() const;
  // Reader slots of dead processes cleared at open.
  int stale_readers_cleared() const { return stale_readers_; }

 private:
  MDB_env* env_ = nullptr;
  int stale_readers_ = 0;
};

}  // namespace metafs::cache
