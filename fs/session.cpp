#include "session.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/sinks/systemd_sink.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "filesystem.hpp"
#include "log.hpp"
#include "ops/ops.hpp"
#include "version.hpp"

namespace metafs::fs {
namespace {

// The loggers every module uses; created here so they share one set of sinks.
constexpr const char* kLoggers[] = {"fs", "cache", "extract"};

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

std::string escape_option_value(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

void setup_logging(const Options& options, bool to_terminal) {
  spdlog::sink_ptr sink;
  // Under systemd (the unit runs metafs in the foreground), the journal with priorities.
  bool under_systemd = std::getenv("INVOCATION_ID") != nullptr;
  if (under_systemd) {
    sink = std::make_shared<spdlog::sinks::systemd_sink_mt>("metafs");
  } else if (to_terminal) {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::syslog_sink_mt>("metafs", LOG_PID, LOG_DAEMON, false);
  }
  auto level = spdlog::level::from_str(options.log_level);
  for (const char* name : kLoggers) {
    spdlog::drop(name);
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    logger->set_level(level);
    spdlog::register_logger(logger);
  }
  spdlog::set_default_logger(spdlog::get("fs"));
  spdlog::set_level(level);
}

int run_session(const Options& options) {
  setup_logging(options, true);
  std::unique_ptr<Filesystem> filesystem;
  try {
    filesystem = std::make_unique<Filesystem>(options);
  } catch (const std::exception& e) {
    log::fs()->critical("cannot start: {}", e.what());
    return 1;
  }

  std::string mount_options = "ro,default_permissions,subtype=metafs,fsname=" +
                              escape_option_value("metafs:" + options.source.string());
  for (const auto& option : options.fuse_options) mount_options += "," + option;
  std::vector<std::string> argv = {"metafs", "-o", mount_options};
  if (options.debug) argv.push_back("-d");
  FuseArgs args(argv);

  fuse_session* session =
      fuse_session_new(args.get(), &operations(), sizeof(fuse_lowlevel_ops), filesystem.get());
  if (session == nullptr) {
    log::fs()->critical("cannot create the FUSE session (bad -o option?)");
    return 1;
  }
  if (fuse_set_signal_handlers(session) != 0) {
    fuse_session_destroy(session);
    return 1;
  }
  if (fuse_session_mount(session, options.mountpoint.c_str()) != 0) {
    log::fs()->critical("cannot mount on {} (is /dev/fuse available, and fusermount3 installed?)",
                        options.mountpoint.string());
    fuse_remove_signal_handlers(session);
    fuse_session_destroy(session);
    return 1;
  }
  log::fs()->info("metafs {} mounted {} on {}", kVersion, options.source.string(),
                  options.mountpoint.string());
  if (!options.foreground) {
    // Returns in the child, once the parent has been told we are live.
    fuse_daemonize(0);
    setup_logging(options, false);
  }
  try {
    filesystem->start(session);
  } catch (const std::exception& e) {
    log::fs()->critical("cannot start: {}", e.what());
    filesystem->stop();
    fuse_session_unmount(session);
    fuse_remove_signal_handlers(session);
    fuse_session_destroy(session);
    return 1;
  }
  sd_notify(0, "READY=1");

  fuse_loop_config* config = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(config, 0);
  fuse_loop_cfg_set_idle_threads(config, 16);
  fuse_loop_cfg_set_max_threads(config, 64);
  int rc = fuse_session_loop_mt(session, config);
  fuse_loop_cfg_destroy(config);
  // libfuse reports the signal that ended the loop: SIGTERM, SIGINT and SIGHUP are a clean stop.
  if (rc == SIGTERM || rc == SIGINT || rc == SIGHUP) rc = 0;

  sd_notify(0, "STOPPING=1");
  log::fs()->info("unmounting {}", options.mountpoint.string());
  filesystem->stop();  // no thread may notify the session once it is gone
  fuse_session_unmount(session);
  fuse_remove_signal_handlers(session);
  fuse_session_destroy(session);
  filesystem.reset();
  return rc == 0 ? 0 : 1;
}

}  // namespace metafs::fs
