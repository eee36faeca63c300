#pragma once

// A PostgreSQL server of the test's own: a cluster initdb'd in a temporary directory by an
// unprivileged account made for the test, listening on 127.0.0.1 at a free port and on a unix
// socket in that directory. Stopped, and everything removed, on destruction (also when the
// test failed). The server binaries come from Debian's postgresql package (tools/deps.sh); a
// machine without them fails the test, never skips it.
#include <filesystem>
#include <string>

#include "temp_dir.hpp"
#include "test_user.hpp"

namespace metafs::test {

class PostgresCluster {
 public:
  // initdb, start, CREATE DATABASE metafs. ADD_FAILURE when any step fails (running() false).
  PostgresCluster();
  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  bool running() const { return running_; }
  int port() const { return port_; }
  // A libpq connection string for `user` to database metafs (trust authentication: the test's
  // server accepts any role it knows from the loopback address).
  std::string uri(const std::string& user = "postgres",
                  const std::string& database = "metafs") const;
  // Stops the server (pg_ctl stop -m fast) and starts it again on the same port.
  void stop();
  void start();
  // Runs `sql` with psql as `user`; its output unaligned, tuples only (-At). Failing SQL
  // fails the test (ADD_FAILURE) unless `status` is given.
  std::string psql(const std::string& sql, const std::string& user = "postgres",
                   int* status = nullptr, const std::string& database = "metafs") const;

 private:
  TestUser account_{"pg"};
  TempDir dir_;
  std::filesystem::path bin_;
  std::filesystem::path data_;
  std::filesystem::path socket_dir_;
  int port_ = 0;
  bool running_ = false;
};

// The directory of the newest installed PostgreSQL's server binaries
// (/usr/lib/postgresql/N/bin), or empty.
std::filesystem::path postgres_bin_dir();

}  // namespace metafs::test
