#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string_view>

#include "in_use_marker.hpp"
#include "lmdb_env.hpp"
#include "lmdb_layout.hpp"

namespace metafs::cache {

struct OpenedStore {
  std::unique_ptr<InUseMarker> marker;  // declared first: released after the env is closed
  std::unique_ptr<LmdbEnv> env;
  StoreDbs dbs;
};

// Opens dir/data.mdb for a store, repairing what a cache may repair: a file that is not
// LMDB, damaged, or another program's is renamed to data.mdb.corrupt-<unix time>; a file of
// an older layout, or larger than `map_size` (the budget was lowered), is deleted; then a
// fresh file is created. Logs one line for each of these.
//
// Damage that would crash this process is looked for before LMDB maps the file: a file
// shorter than its meta page says (lmdb_mapping_problem) is set aside; after an unclean stop
// (dir/in-use left behind) the whole file is first read by `verifier` in a child process
// (verify_store_out_of_process) and set aside if that fails or crashes. So a damaged file
// can crash the daemon at most once.
//
// The directory is made 0700 and the files 0600 (prepare_private_dir / _file); one owned by
// another user is refused. Returns nullptr env when the directory cannot hold a cache (not
// creatable, another user's, not writable, disk full); never throws except std::bad_alloc.
OpenedStore open_store_file(const std::filesystem::path& dir, std::uint64_t map_size,
                            const std::filesystem::path& verifier);

// Renames dir/data.mdb aside (or deletes it when `keep` is false) with a log line giving
// `reason`. Never throws.
void set_aside_store_file(const std::filesystem::path& dir, std::string_view reason, bool keep);

}  // namespace metafs::cache
