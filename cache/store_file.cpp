#include "store_file.hpp"

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>

#include "cache_log.hpp"
#include "lmdb_meta.hpp"
#include "private_files.hpp"
#include "store_verifier.hpp"

namespace metafs::cache {
namespace {

namespace fs = std::filesystem;

std::uint64_t file_size_or_zero(const fs::path& path) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

}  // namespace

void set_aside_store_file(const fs::path& dir, std::string_view reason, bool keep) {
  fs::path data = dir / "data.mdb";
  std::error_code ec;
  if (keep) {
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    fs::path aside = dir / ("data.mdb.corrupt-" + std::to_string(now));
    fs::rename(data, aside, ec);
    if (!ec) {
      cache_log().error("cache file {}: {}; moved it to {} and started a fresh cache",
                        data.string(), reason, aside.string());
      return;
    }
  }
  fs::remove(data, ec);
  if (ec) {
    cache_log().error("cache file {}: {}; could not remove it: {}", data.string(), reason,
                      ec.message());
  } else {
    cache_log().warn("cache file {}: {}; deleted it and started a fresh cache", data.string(),
                     reason);
  }
}

OpenedStore open_store_file(const fs::path& dir, std::uint64_t map_size, const fs::path& verifier) {
  OpenedStore out;
  if (!prepare_private_dir(dir)) return out;
  tighten_private_files(dir);
  out.marker = InUseMarker::acquire(dir);
  if (!out.marker) return out;
  fs::path data = dir / "data.mdb";
  // Refuses another user's files before anything renames them.
  if (!prepare_private_file(data) || !prepare_private_file(dir / "lock.mdb")) {
    out.marker.reset();
    return out;
  }
  if (file_size_or_zero(data) > map_size) {
    set_aside_store_file(dir, "larger than the configured cache size", false);
  }
  if (auto problem = lmdb_mapping_problem(data)) {
    set_aside_store_file(dir, *problem, true);
  } else if (out.marker->unclean_stop() && file_size_or_zero(data) > 0) {
    auto started = std::chrono::steady_clock::now();
    if (auto failure = verify_store_out_of_process(dir, verifier)) {
      set_aside_store_file(dir, "not closed cleanly and " + *failure, true);
    } else {
      cache_log().info("cache file {} was not closed cleanly; verified every record in {} ms",
                       data.string(),
                       std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count());
    }
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    // Created here, not by LMDB (an empty data.mdb is a new one to it), so that its mode is
    // exact whatever the umask.
    if (!prepare_private_file(data)) break;
    try {
      auto env = std::make_unique<LmdbEnv>(dir, map_size, kStoreMaxDbs);
      if (env->stale_readers_cleared() > 0) {
        cache_log().info("cleared {} reader slots of dead processes in {}",
                         env->stale_readers_cleared(), dir.string());
      }
      StoreDbs dbs;
      LayoutCheck check = open_layout(env->get(), &dbs);
      if (check == LayoutCheck::kOk) {
        out.env = std::move(env);
        out.dbs = dbs;
        out.marker->share();
        return out;
      }
      env.reset();
      if (check == LayoutCheck::kForeign) {
        set_aside_store_file(dir, "not a metafs cache", true);
      } else {
        set_aside_store_file(dir, "written by another version of metafs", false);
      }
    } catch (const LmdbError& e) {
      if (is_corruption(e.code())) {
        set_aside_store_file(dir, e.what(), true);
        continue;
      }
      if (e.code() == MDB_MAP_FULL) {
        set_aside_store_file(dir, "full before it could be opened", false);
        continue;
      }
      cache_log().error("cache in {} cannot be opened ({}); running without a persistent cache",
                        dir.string(), e.what());
      out.marker.reset();
      return out;
    }
  }
  cache_log().error("cache in {} could not be recreated; running without a persistent cache",
                    dir.string());
  out.marker.reset();
  return out;
}

}  // namespace metafs::cache
