#include "worker_fault.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

namespace metafs::extract::worker {

FaultPlan FaultPlan::from_environment() {
  FaultPlan plan;
  const char* value = std::getenv("METAFS_WORKER_TEST_FAULT");
  if (value == nullptr) return plan;
  std::string_view spec = value;
  std::string_view kind = spec.substr(0, spec.find(':'));
  if (kind.size() < spec.size()) plan.path_contains_ = spec.substr(kind.size() + 1);
  if (kind == "crash") plan.kind_ = Kind::kCrash;
  if (kind == "hang") plan.kind_ = Kind::kHang;
  if (kind == "spin") plan.kind_ = Kind::kSpin;
  if (kind == "oom") plan.kind_ = Kind::kOom;
  if (kind == "garbage") plan.kind_ = Kind::kGarbage;
  if (kind == "huge") plan.kind_ = Kind::kHuge;
  if (kind == "exit") plan.kind_ = Kind::kExit;
  if (kind == "socket") plan.kind_ = Kind::kSocket;
  if (kind == "exec") plan.kind_ = Kind::kExec;
  if (kind == "fork") plan.kind_ = Kind::kFork;
  if (kind == "write") plan.kind_ = Kind::kWrite;
  return plan;
}

FaultPlan::Kind FaultPlan::for_path(std::string_view path) const {
  if (kind_ == Kind::kNone) return kind_;
  if (!path_contains_.empty() && path.find(path_contains_) == std::string_view::npos) {
    return Kind::kNone;
  }
  return kind_;
}

void trigger(FaultPlan::Kind kind) {
  switch (kind) {
    case FaultPlan::Kind::kCrash:
      ::raise(SIGSEGV);
      break;
    case FaultPlan::Kind::kHang:
      for (;;) {
        struct timespec second {
          1, 0
        };
        ::nanosleep(&second, nullptr);
      }
    case FaultPlan::Kind::kSpin:
      for (volatile unsigned long counter = 0;;) {
        counter = counter + 1;
      }
    case FaultPlan::Kind::kOom: {
      // Allocate (never touch) until the limit refuses: fast, and RSS stays low.
      std::vector<std::unique_ptr<char[]>> blocks;
      for (;;) blocks.emplace_back(new char[64 << 20]);
    }
    case FaultPlan::Kind::kExit:
      std::_Exit(7);
    case FaultPlan::Kind::kSocket:
      if (::socket(AF_INET, SOCK_STREAM, 0) >= 0) std::_Exit(9);
      std::_Exit(9);
    case FaultPlan::Kind::kExec: {
      char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
      ::execv("/bin/true", argv);
      std::_Exit(9);
    }
    case FaultPlan::Kind::kFork:
      if (::fork() == 0) std::_Exit(0);
      std::_Exit(9);
    case FaultPlan::Kind::kWrite:
      (void)::open("/tmp/metafs-worker-escape", O_WRONLY | O_CREAT | O_TRUNC, 0600);
      std::_Exit(9);
    default:
      break;
  }
}

}  // namespace metafs::extract::worker
