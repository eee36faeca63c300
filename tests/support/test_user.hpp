#pragma once

// A system account that exists for one test: named after the test process (parallel tests never
// share one), removed afterwards. Header-only; the tests that need it run as root.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <string>

#include "corpus.hpp"

namespace metafs::test {

class TestUser {
 public:
  explicit TestUser(const std::string& tag) : name_("mft" + tag + std::to_string(::getpid())) {
    int status = 0;
    std::string out = run_command(
        "useradd --system --no-create-home --shell /bin/sh " + shell_quote(name_) + " 2>&1",
        &status);
    if (status != 0) ADD_FAILURE() << "useradd " << name_ << ": " << out;
    const struct passwd* account = ::getpwnam(name_.c_str());
    if (account == nullptr) {
      ADD_FAILURE() << "no account " << name_;
    } else {
      uid_ = account->pw_uid;
      gid_ = account->pw_gid;
    }
  }
  ~TestUser() { run_command("userdel " + shell_quote(name_) + " 2>&1"); }
  TestUser(const TestUser&) = delete;
  TestUser& operator=(const TestUser&) = delete;

  const std::string& name() const { return name_; }
  uid_t uid() const { return uid_; }
  gid_t gid() const { return gid_; }

  // Runs `command` (quoted for the shell) as this user; stdout and stderr together.
  std::string run(const std::string& command, int* status = nullptr) const {
    return run_command("runuser -u " + shell_quote(name_) + " -- " + command + " 2>&1", status);
  }

 private:
  std::string name_;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace metafs::test
