#include "postgres_cluster.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "corpus.hpp"

namespace metafs::test {
namespace {

// A port nobody listens on now (the kernel's choice for port 0).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in address {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

}  // namespace

std::filesystem::path postgres_bin_dir() {
  std::filesystem::path best;
  int best_version = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version && std::filesystem::exists(entry.path() / "bin" / "initdb")) {
      best_version = version;
      best = entry.path() / "bin";
    }
  }
  return best;
}

PostgresCluster::PostgresCluster() {
  bin_ = postgres_bin_dir();
  if (bin_.empty()) {
    ADD_FAILURE() << "no PostgreSQL server in /usr/lib/postgresql (apt-get install postgresql; "
                     "tools/deps.sh lists it)";
    return;
  }
  data_ = dir_.path() / "data";
  socket_dir_ = dir_.path() / "socket";
  std::filesystem::permissions(dir_.path(), std::filesystem::perms::owner_all |
                                                std::filesystem::perms::group_exec |
                                                std::filesystem::perms::others_exec);
  std::filesystem::create_directory(data_);
  std::filesystem::create_directory(socket_dir_);
  std::string owner = shell_quote(account_.name());
  run_command("chown " + owner + " " + shell_quote(data_) + " " + shell_quote(socket_dir_));
  int status = -1;
  std::string out = account_.run(shell_quote(bin_ / "initdb") + " -D " + shell_quote(data_) +
                                     " -U postgres -A trust -E UTF8 --no-locale --no-sync",
                                 &status);
  if (status != 0) {
    ADD_FAILURE() << "initdb: " << out;
    return;
  }
  port_ = free_port();
  start();
  if (!running_) return;
  psql("CREATE DATABASE metafs", "postgres", nullptr, "postgres");
}

void PostgresCluster::start() {
  int status = -1;
  // fsync off: a test's server never has to survive a crash.
  std::string options = "-p " + std::to_string(port_) + " -k " + socket_dir_.string() +
                        " -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200";
  std::string out = account_.run(shell_quote(bin_ / "pg_ctl") + " -D " + shell_quote(data_) +
                                     " -l " + shell_quote(socket_dir_ / "server.log") +
                                     " -w -t 60 -o " + shell_quote(options) + " start",
                                 &status);
  running_ = status == 0;
  if (!running_) {
    ADD_FAILURE() << "pg_ctl start: " << out << "\n" << read_file(dir_.path() / "server.log");
  }
}

void PostgresCluster::stop() {
  if (!running_) return;
  int status = -1;
  std::string out = account_.run(
      shell_quote(bin_ / "pg_ctl") + " -D " + shell_quote(data_) + " -w -t 60 -m fast stop",
      &status);
  if (status != 0) ADD_FAILURE() << "pg_ctl stop: " << out;
  running_ = false;
}

PostgresCluster::~PostgresCluster() {
  if (running_) {
    account_.run(shell_quote(bin_ / "pg_ctl") + " -D " + shell_quote(data_) +
                 " -w -t 60 -m immediate stop");
  }
}

std::string PostgresCluster::uri(const std::string& user, const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + database + " user=" + user +
         " connect_timeout=5";
}

std::string PostgresCluster::psql(const std::string& sql, const std::string& user, int* status,
                                  const std::string& database) const {
  int rc = -1;
  std::string out =
      run_command(shell_quote(bin_ / "psql") + " -X -q -At -v ON_ERROR_STOP=1 " +
                      shell_quote(uri(user, database)) + " -c " + shell_quote(sql) + " 2>&1",
                  &rc);
  if (status) {
    *status = rc;
  } else if (rc != 0) {
    ADD_FAILURE() << "psql " << sql << ": " << out;
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace metafs::test
