#include "shared_tier/shared_query.hpp"

#include "codec.hpp"
#include "shared_tier/pg_connection.hpp"

namespace metafs::shared_tier {

std::vector<CandidateRow> fetch_candidates(const std::string& uri, const std::string& root,
                                           const std::string& condition, uid_t uid,
                                           const std::vector<gid_t>& gids,
                                           std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  PgConnection connection = PgConnection::open(uri, deadline);
  PgResult trusted =
      connection.exec("SELECT has_table_privilege('metafs.files', 'SELECT')", deadline);
  bool writer = trusted.rows() == 1 && trusted.value(0, 0) == "t";
  std::string gid_array = "{";
  for (gid_t gid : gids) {
    if (gid_array.size() > 1) gid_array += ',';
    gid_array += std::to_string(gid);
  }
  gid_array += '}';
  std::string uid_text = std::to_string(uid);
  std::string codec = std::to_string(extract::kCodecVersion);
  std::string sql =
      "SELECT path, ino, size, mtime_ns, ctime_ns, tree FROM " +
      std::string(writer ? "metafs.files" : "metafs.readable_files") +
      " WHERE root = $1 AND codec_version = $2::smallint AND (" + condition + ")" +
      (writer ? " AND (public_read OR metafs.may_read(path_perms, $3::bigint, $4::bigint[]))"
              : "") +
      " ORDER BY path, schema_version DESC";
  std::vector<PgParam> params = {PgParam::text(root), PgParam::text(codec)};
  if (writer) params.insert(params.end(), {PgParam::text(uid_text), PgParam::text(gid_array)});
  // Binary results: bytea as its bytes, bigint as 8 big-endian bytes.
  PgResult result = connection.exec(sql, params, deadline, true);
  auto number = [&](int row, int column) {
    std::string_view bytes = result.value(row, column);
    std::uint64_t value = 0;
    for (char c : bytes) value = (value << 8) | static_cast<unsigned char>(c);
    return value;
  };
  std::vector<CandidateRow> rows;
  rows.reserve(static_cast<std::size_t>(result.rows()));
  for (int r = 0; r < result.rows(); ++r) {
    CandidateRow row;
    row.path = std::string(result.value(r, 0));
    row.ino = number(r, 1);
    row.size = number(r, 2);
    row.mtime_ns = static_cast<std::int64_t>(number(r, 3));
    row.ctime_ns = static_cast<std::int64_t>(number(r, 4));
    row.tree = std::string(result.value(r, 5));
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace metafs::shared_tier
