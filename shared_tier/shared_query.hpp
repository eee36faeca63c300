#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace metafs::shared_tier {

// One file's row as a query reads it: the key's numbers and the encoded extraction.
struct CandidateRow {
  std::string path;
  std::uint64_t ino = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::string tree;
};

// The rows of `root` whose fields satisfy `condition` (SQL over the column `fields`, e.g.
// query::jsonb_prefilter's) and that the asking user may read, sorted by path (the newest
// extractors' row of a path first). A reader role (metafs_reader) gets what
// metafs.readable_files gives it, by the uid and groups the server maps it to; a role that
// may read metafs.files (a writer: trusted) gets the rows metafs.may_read allows `uid` in
// `gids`. Only rows of this build's codec. Throws PgError.
std::vector<CandidateRow> fetch_candidates(const std::string& uri, const std::string& root,
                                           const std::string& condition, uid_t uid,
                                           const std::vector<gid_t>& gids,
                                           std::chrono::milliseconds timeout);

}  // namespace metafs::shared_tier
