#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace metafs::cache {

// The verifier executable: $METAFS_CACHE_VERIFIER when set, else `metafs-cache-verify` beside
// this process's own executable.
std::filesystem::path default_store_verifier();

// Walks every B-tree of dir/data.mdb in a child process (posix_spawn of `verifier DIR`, never
// fork: the daemon is threaded), so that a damaged file kills the child, not this process.
// Returns why the file cannot be trusted: the child failed, died by a signal, ran past
// `deadline` (then SIGKILL), or could not be started (unverifiable counts as damaged).
// nullopt: every record read. The default deadline stays below systemd's start timeout (90 s),
// so a store too slow to verify is set aside rather than failing every start. Never throws
// except std::bad_alloc.
std::optional<std::string> verify_store_out_of_process(
    const std::filesystem::path& dir, const std::filesystem::path& verifier,
    std::chrono::milliseconds deadline = std::chrono::seconds(60));

}  // namespace metafs::cache
