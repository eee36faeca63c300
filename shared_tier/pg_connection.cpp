#include "shared_tier/pg_connection.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>

namespace metafs::shared_tier {
namespace {

std::string message_of(const PGconn* conn) {
  std::string text = conn ? PQerrorMessage(conn) : "out of memory";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text.empty() ? "unknown error" : text;
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return 0;
  return static_cast<int>(std::min<long long>(left.count(), 60'000));
}

}  // namespace

PgResult::~PgResult() {
  if (result_) PQclear(result_);
}

PgResult& PgResult::operator=(PgResult&& other) noexcept {
  if (this != &other) {
    if (result_) PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
  }
  return *this;
}

int PgResult::rows() const {
  return result_ ? PQntuples(result_) : 0;
}

bool PgResult::is_null(int row, int column) const {
  return PQgetisnull(result_, row, column) != 0;
}

std::string_view PgResult::value(int row, int column) const {
  return {PQgetvalue(result_, row, column),
          static_cast<std::size_t>(PQgetlength(result_, row, column))};
}

PgConnection::~PgConnection() {
  if (conn_) PQfinish(conn_);
}

PgConnection& PgConnection::operator=(PgConnection&& other) noexcept {
  if (this != &other) {
    if (conn_) PQfinish(conn_);
    conn_ = std::exchange(other.conn_, nullptr);
  }
  return *this;
}

void PgConnection::fail(const std::string& what, bool timed_out) {
  std::string text = what + (timed_out ? "" : ": " + message_of(conn_));
  PQfinish(conn_);
  conn_ = nullptr;
  throw PgError(text, true, timed_out);
}

bool PgConnection::wait_socket(bool for_write, Clock::time_point deadline) const {
  struct pollfd fd {};
  fd.fd = PQsocket(conn_);
  fd.events = for_write ? POLLOUT : POLLIN;
  while (true) {
    int ms = remaining_ms(deadline);
    if (ms == 0) return false;
    int n = ::poll(&fd, 1, ms);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

PgConnection PgConnection::open(const std::string& uri, Clock::time_point deadline) {
  PgConnection connection(PQconnectStart(uri.c_str()));
  if (!connection.conn_ || PQstatus(connection.conn_) == CONNECTION_BAD) {
    connection.fail("cannot connect");
  }
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK) {
    if (status == PGRES_POLLING_FAILED) connection.fail("cannot connect");
    if (!connection.wait_socket(status == PGRES_POLLING_WRITING, deadline)) {
      connection.fail("no connection within the deadline", true);
    }
    status = PQconnectPoll(connection.conn_);
  }
  if (PQsetnonblocking(connection.conn_, 1) != 0) connection.fail("cannot set non-blocking");
  return connection;
}

PgResult PgConnection::exec(const std::string& sql, const std::vector<PgParam>& params,
                            Clock::time_point deadline, bool binary_result) {
  if (!conn_) throw PgError("not connected", true);
  int sent;
  if (params.empty() && !binary_result) {
    sent = PQsendQuery(conn_, sql.c_str());
  } else {
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size());
    std::vector<int> formats(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      values[i] = params[i].value ? params[i].value->data() : nullptr;
      lengths[i] = params[i].value ? static_cast<int>(params[i].value->size()) : 0;
      formats[i] = params[i].binary ? 1 : 0;
    }
    // Text parameters are passed with their length ignored: libpq reads them to their NUL, so
    // callers pass views of std::string (NUL-terminated). Checked here for safety.
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (params[i].value && !params[i].binary && params[i].value->data()[lengths[i]] != '\0') {
        throw PgError("text parameter not NUL-terminated", false);
      }
    }
    sent = PQsendQueryParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                             values.data(), lengths.data(), formats.data(), binary_result ? 1 : 0);
  }
  if (!sent) fail("cannot send");
  // Non-blocking: what did not fit the socket's buffer goes out as the socket allows.
  while (true) {
    int flushed = PQflush(conn_);
    if (flushed == 0) break;
    if (flushed < 0) fail("cannot send");
    if (!wait_socket(true, deadline)) fail("no answer within the deadline", true);
  }
  PgResult last;
  std::string error;
  while (true) {
    while (PQisBusy(conn_)) {
      if (!wait_socket(false, deadline)) fail("no answer within the deadline", true);
      if (!PQconsumeInput(conn_)) fail("connection lost");
    }
    PGresult* result = PQgetResult(conn_);
    if (!result) break;
    ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE) {
      if (error.empty()) {
        const char* text = PQresultErrorMessage(result);
        error = text ? text : "statement failed";
        while (!error.empty() && error.back() == '\n') error.pop_back();
      }
    }
    last = PgResult(result);
  }
  if (PQstatus(conn_) == CONNECTION_BAD) fail("connection lost");
  if (!error.empty()) throw PgError(error, false);
  return last;
}

std::string sql_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

}  // namespace metafs::shared_tier
