#include "shared_tier/schema.hpp"

#include <xxhash.h>

#include <cstdio>
#include <string_view>

namespace metafs::shared_tier {

// The migrations, in order: migration N brings the schema from N-1 to N (schema_N.sql,
// embedded at build time into schema_sql.cpp).
extern const char* const kMigrations[];

namespace {

// Distinguishes metafs's advisory lock from any other application's in the same database.
constexpr long long kMigrationLock = 0x6d65746166730001LL;  // "metafs" 1

}  // namespace

std::string partition_name(const std::string& root) {
  char text[32];
  std::snprintf(text, sizeof text, "files_%016llx",
                static_cast<unsigned long long>(XXH3_64bits(root.data(), root.size())));
  return text;
}

int migrate(PgConnection& connection, Clock::time_point deadline) {
  PgResult role = connection.exec(
      "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'metafs_writer') AND "
      "pg_has_role('metafs_writer', 'MEMBER')",
      deadline);
  if (role.rows() == 1 && role.value(0, 0) == "t") {
    connection.exec("SET ROLE metafs_writer", deadline);
  }
  // Without the lock first: a migrated database costs two reads.
  int before = 0;
  PgResult exists =
      connection.exec("SELECT to_regclass('metafs.schema_version') IS NOT NULL", deadline);
  if (exists.rows() == 1 && exists.value(0, 0) == "t") {
    PgResult found =
        connection.exec("SELECT coalesce(max(version), 0) FROM metafs.schema_version", deadline);
    before = std::stoi(std::string(found.value(0, 0)));
  }
  if (before >= kSchemaVersion) return before;
  connection.exec("BEGIN", deadline);
  try {
    connection.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) +
                        "); CREATE SCHEMA IF NOT EXISTS metafs; CREATE TABLE IF NOT EXISTS "
                        "metafs.schema_version (version integer PRIMARY KEY, applied_at "
                        "timestamptz NOT NULL DEFAULT now())",
                    deadline);
    PgResult locked =
        connection.exec("SELECT coalesce(max(version), 0) FROM metafs.schema_version", deadline);
    int current = std::stoi(std::string(locked.value(0, 0)));
    for (int version = current + 1; version <= kSchemaVersion; ++version) {
      connection.exec(std::string(kMigrations[version - 1]) +
                          "\n;INSERT INTO metafs.schema_version (version) VALUES (" +
                          std::to_string(version) + ")",
                      deadline);
    }
    connection.exec("COMMIT", deadline);
  } catch (const PgError& e) {
    if (!e.connection_lost()) connection.exec("ROLLBACK", deadline);
    throw;
  }
  return before;
}

void ensure_root(PgConnection& connection, const std::string& root, Clock::time_point deadline) {
  std::string partition = partition_name(root);
  PgResult known = connection.exec("SELECT 1 FROM metafs.roots WHERE root = $1",
                                   {PgParam::text(root)}, deadline);
  if (known.rows() == 1) return;
  // A root name is data, never SQL: it reaches the DDL as a quoted literal (no parameters
  // there) and the partition's name is a hash.
  connection.exec("BEGIN", deadline);
  try {
    connection.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) +
                        "); CREATE TABLE IF NOT EXISTS metafs." + partition +
                        " PARTITION OF metafs.files FOR VALUES IN (" + sql_literal(root) +
                        "); INSERT INTO metafs.roots (root, partition) VALUES (" +
                        sql_literal(root) + ", '" + partition + "') ON CONFLICT DO NOTHING",
                    deadline);
    connection.exec("COMMIT", deadline);
  } catch (const PgError& e) {
    if (!e.connection_lost()) connection.exec("ROLLBACK", deadline);
    throw;
  }
}

}  // namespace metafs::shared_tier
