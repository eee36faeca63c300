#include "store_file.hpp"

#include <cerrno>
#include <chrono>
#include <string>
#include <system_error>

#include "cache_log.hpp"

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

OpenedStore open_store_file(const fs::path& dir, std::uint64_t map_size) {
  OpenedStore out;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    cache_log().error(
        "cache directory {} cannot be created ({}); running without a persistent "
        "cache",
        dir.string(), ec.message());
    return out;
  }
  if (file_size_or_zero(dir / "data.mdb") > map_size) {
    set_aside_store_file(dir, "larger than the configured cache size", false);
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
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
      return out;
    }
  }
  cache_log().error("cache in {} could not be recreated; running without a persistent cache",
                    dir.string());
  return out;
}

}  // namespace metafs::cache
