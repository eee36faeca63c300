#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "lmdb_env.hpp"
#include "lmdb_layout.hpp"

namespace metafs::cache {

struct OpenedStore {
  std::unique_ptr<LmdbEnv> env;
  StoreDbs dbs;
};

// Opens dir/data.mdb for a store, repairing what a cache may repair: a file that is not
// LMDB, damaged, or another program's is renamed to data.mdb.corrupt-<unix time>; a file of
// an older layout, or larger than `map_size` (the budget was lowered), is deleted; then a
// fresh file is created. Logs one line for each of these. Returns nullptr env when the
// directory cannot hold a cache (not creatable, not writable, disk full); never throws.
OpenedStore open_store_file(const std::filesystem::path& dir, std::uint64_t map_size);

// Renames dir/data.mdb aside (or deletes it when `keep` is false) with a log line giving
// `reason`. Never throws.
void set_aside_store_file(const std::filesystem::path& dir, std::string_view reason, bool keep);

}  // namespace metafs::cache
