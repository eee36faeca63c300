#include "fuse_session.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace metafs::fs {
namespace {

class FuseArgs {
 public:
  explicit FuseArgs(const std::vector<std::string>& args) : strings_(args) {
    for (auto& s : strings_) pointers_.push_back(s.data());
    args_ = FUSE_ARGS_INIT(static_cast<int>(pointers_.size()), pointers_.data());
  }
  ~FuseArgs() { fuse_opt_free_args(&args_); }
  FuseArgs(const FuseArgs&) = delete;
  FuseArgs& operator=(const FuseArgs&) = delete;
  fuse_args* get() { return &args_; }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
  fuse_args args_;
};

}  // namespace

FuseSession::FuseSession(const std::vector<std::string>& args, const fuse_lowlevel_ops& ops,
                         void* userdata) {
  FuseArgs fuse_args(args);
  session_ = fuse_session_new(fuse_args.get(), &ops, sizeof(fuse_lowlevel_ops), userdata);
}

FuseSession::~FuseSession() {
  if (mounted_) fuse_session_unmount(session_);
  if (session_ != nullptr) fuse_session_destroy(session_);
}

bool FuseSession::mount(const std::filesystem::path& mountpoint, std::string* why) {
  int pipe_fds[2];
  int saved = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
  if (saved < 0 || ::pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    if (saved >= 0) ::close(saved);
    mounted_ = fuse_session_mount(session_, mountpoint.c_str()) == 0;
    return mounted_;
  }
  std::fflush(stderr);
  ::dup2(pipe_fds[1], STDERR_FILENO);
  ::close(pipe_fds[1]);
  mounted_ = fuse_session_mount(session_, mountpoint.c_str()) == 0;
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  // fusermount3 has exited: what it wrote is in the pipe (far less than its capacity).
  std::string text;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) {
    text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  if (mounted_) {
    std::cerr << text;
    return true;
  }
  for (char& c : text) {
    if (c == '\n') c = ';';
  }
  while (!text.empty() && (text.back() == ';' || text.back() == ' ')) text.pop_back();
  *why = text;
  return false;
}

}  // namespace metafs::fs
