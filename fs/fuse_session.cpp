#include "fuse_session.hpp"

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

bool FuseSession::mount(const std::filesystem::path& mountpoint) {
  mounted_ = fuse_session_mount(session_, mountpoint.c_str()) == 0;
  return mounted_;
}

}  // namespace metafs::fs
