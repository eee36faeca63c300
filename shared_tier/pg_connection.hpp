#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// libpq's types, without its header in ours.
struct pg_conn;
struct pg_result;

namespace metafs::shared_tier {

using Clock = std::chrono::steady_clock;

// What a call to the server throws. `connection_lost`: the connection is unusable (down,
// reset, timed out mid-query); otherwise the server refused this statement and the
// connection is still good.
class PgError : public std::runtime_error {
 public:
  PgError(const std::string& what, bool connection_lost, bool timed_out = false)
      : std::runtime_error(what), connection_lost_(connection_lost), timed_out_(timed_out) {}
  bool connection_lost() const { return connection_lost_; }
  bool timed_out() const { return timed_out_; }

 private:
  bool connection_lost_;
  bool timed_out_;
};

// One result, owned (PQclear on destruction). Move-only.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* result) : result_(result) {}
  ~PgResult();
  PgResult(PgResult&& other) noexcept : result_(std::exchange(other.result_, nullptr)) {}
  PgResult& operator=(PgResult&& other) noexcept;
  PgResult(const PgResult&) = delete;
  PgResult& operator=(const PgResult&) = delete;

  int rows() const;
  bool is_null(int row, int column) const;
  // The value's bytes (text, or binary when the query asked for binary results).
  std::string_view value(int row, int column) const;

 private:
  pg_result* result_ = nullptr;
};

// A statement parameter: text, binary (bytea) or NULL.
struct PgParam {
  std::optional<std::string_view> value;  // nullopt: NULL
  bool binary = false;

  static PgParam text(std::string_view v) { return {v, false}; }
  static PgParam bytes(std::string_view v) { return {v, true}; }
  static PgParam null() { return {std::nullopt, false}; }
};

// One connection to PostgreSQL, owned (PQfinish on destruction), used in non-blocking mode so
// that no call waits past its deadline: the socket is polled, never blocked on. A call that
// passes its deadline leaves the connection unusable (the caller drops it: closing the socket
// ends the statement on the server). Not thread-safe: one thread uses it at a time.
class PgConnection {
 public:
  // Connects to `uri` (a libpq connection string or postgresql:// URI). Throws PgError
  // (connection_lost) when the server cannot be reached or authentication fails by `deadline`.
  static PgConnection open(const std::string& uri, Clock::time_point deadline);

  PgConnection() = default;
  ~PgConnection();
  PgConnection(PgConnection&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
  PgConnection& operator=(PgConnection&& other) noexcept;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  bool valid() const { return conn_ != nullptr; }

  // Runs one statement (several when `params` is empty and `sql` holds several) and returns
  // the last result. `binary_result`: values come back in binary form (bytea as raw bytes).
  // Throws PgError: the server's message for a failed statement, connection_lost for a lost
  // connection or a passed deadline.
  PgResult exec(const std::string& sql, const std::vector<PgParam>& params,
                Clock::time_point deadline, bool binary_result = false);
  // The same without parameters (may hold several statements).
  PgResult exec(const std::string& sql, Clock::time_point deadline) {
    return exec(sql, {}, deadline);
  }

 private:
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}
  // Waits until the socket is readable (or writable) or the deadline passes; false on timeout.
  bool wait_socket(bool for_write, Clock::time_point deadline) const;
  [[noreturn]] void fail(const std::string& what, bool timed_out = false);

  pg_conn* conn_ = nullptr;
};

// `text` quoted as an SQL string literal ('it''s').
std::string sql_literal(std::string_view text);

}  // namespace metafs::shared_tier
