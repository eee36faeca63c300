#pragma once

#include <string>

#include "shared_tier/pg_connection.hpp"

namespace metafs::shared_tier {

// The schema this build writes and reads (schema_N.sql, applied in order).
inline constexpr int kSchemaVersion = 1;

// Brings the database's schema metafs to kSchemaVersion, creating it on first use: one
// transaction under an advisory lock, so writers starting together migrate once. The
// connection takes the role metafs_writer first when it exists and the user is a member, so
// the objects belong to that role and not to one node's login. Returns the version found
// before (0: none). A database already past kSchemaVersion (a newer metafs) is left alone.
// Throws PgError.
int migrate(PgConnection& connection, Clock::time_point deadline);

// The partition of metafs.files for `root` (metafs.files_<hash>), created when missing.
// Throws PgError.
void ensure_root(PgConnection& connection, const std::string& root, Clock::time_point deadline);

// The partition's table name for a root: "files_" and 16 hex digits of the name's hash (any
// name, whatever its characters, makes a plain identifier).
std::string partition_name(const std::string& root);

}  // namespace metafs::shared_tier
