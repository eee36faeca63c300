#include "session.hpp"

#include <poll.h>
#include <pthread.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/sinks/systemd_sink.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "control_files.hpp"
#include "extraction/log.hpp"
#include "filesystem.hpp"
#include "fuse_session.hpp"
#include "log.hpp"
#include "ops/ops.hpp"
#include "shared_tier/log.hpp"
#include "signal_name.hpp"
#include "version.hpp"

namespace metafs::fs {
namespace {

// The loggers every module uses; created here so they share one set of sinks.
constexpr const char* kLoggers[] = {"fs", "cache", "extract"};

// libfuse's request threads: kept waiting for requests, and at most (a request waiting on an
// extraction holds its thread; past this, requests queue in the kernel).
constexpr unsigned kIdleFuseThreads = 16;
constexpr unsigned kMaxFuseThreads = 64;

std::string escape_option_value(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// Stop signals: a clean unmount and exit 0. They are taken by a handler on the main thread
// only, because libfuse's loop waits there in sem_wait and only a handler interrupts that;
// every other thread blocks them (libfuse's own threads block them too). SIGHUP is not one:
// it re-opens the log file (a mount must survive `systemctl reload` and a closed terminal).
constexpr int kStopSignals[] = {SIGTERM, SIGINT, SIGQUIT};

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : kStopSignals) sigaddset(&set, signal);
  return set;
}

// Signals whose default action would kill the daemon and leave a dead mount, taken by the
// signal thread from a signalfd: SIGUSR1 logs the counters, SIGHUP re-opens the log file, the
// others are ignored. Faults (SIGSEGV, SIGBUS, ...) and job control keep their defaults.
sigset_t watched_signals() {
  sigset_t set;
  sigemptyset(&set);
  // SIGXCPU and SIGXFSZ too: the daemon sets no CPU or file-size limit, so one that arrives was
  // sent (and with SIGXFSZ held, a write past an inherited limit fails with EFBIG instead).
  for (int signal : {SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM, SIGPROF, SIGIO, SIGPWR,
                     SIGSTKFLT, SIGXCPU, SIGXFSZ}) {
    sigaddset(&set, signal);
  }
  for (int signal = SIGRTMIN; signal <= SIGRTMAX; ++signal) sigaddset(&set, signal);
  return set;
}

// Written by the stop handler (a lock-free atomic, so safe there) and read by the signal
// thread; the session and the wake-up descriptor are set before the handler can run.
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);
fuse_session* g_session = nullptr;
int g_wake_fd = -1;

void on_stop_signal(int signal) {
  int saved_errno = errno;
  int none = 0;
  g_stop_signal.compare_exchange_strong(none, signal);
  fuse_session_exit(g_session);
  if (g_wake_fd >= 0) {
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(g_wake_fd, &one, sizeof one);
  }
  errno = saved_errno;
}

// Installs on_stop_signal for every stop signal, whatever the disposition inherited: a shell
// starts background jobs with SIGINT and SIGQUIT ignored, and the daemon must still stop
// cleanly when they are sent on purpose. The watched signals get their default disposition
// (an ignored signal would never reach the signalfd; blocked everywhere, the default never
// runs). SIGPIPE is ignored: a reader gone is an error return.
void install_signal_dispositions() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  action.sa_mask = stop_signals();  // no nesting
  action.sa_flags = 0;              // no SA_RESTART: sem_wait must return
  for (int signal : kStopSignals) ::sigaction(signal, &action, nullptr);
  struct sigaction fallback {};
  fallback.sa_handler = SIG_DFL;
  sigset_t watched = watched_signals();
  for (int signal = 1; signal < NSIG; ++signal) {
    if (sigismember(&watched, signal) == 1) ::sigaction(signal, &fallback, nullptr);
  }
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, nullptr);
}

std::string one_line(const std::string& text) {
  std::string out;
  bool skip_indent = false;
  for (char c : text) {
    if (c == '\n') {
      skip_indent = true;
    } else if (!(skip_indent && c == ' ')) {
      skip_indent = false;
      out.push_back(c);
    }
  }
  return out;
}

// The thread that takes the watched signals. After a stop signal it also interrupts the main
// thread again every 200 ms until the loop has returned (this object is destroyed): a signal
// that lands between libfuse's exit check and its sem_wait would otherwise wait for the next
// request.
class SignalThread {
 public:
  // `report` runs on this thread for SIGUSR1, `stopping` once when a stop signal arrives;
  // SIGHUP re-opens the log file when there is one. Throws std::system_error when the
  // descriptors cannot be made.
  SignalThread(std::function<void()> report, std::function<void()> stopping, pthread_t main_thread,
               bool has_log_file)
      : report_(std::move(report)),
        stopping_hook_(std::move(stopping)),
        main_thread_(main_thread),
        has_log_file_(has_log_file) {
    sigset_t watched = watched_signals();
    signals_fd_ = ::signalfd(-1, &watched, SFD_CLOEXEC | SFD_NONBLOCK);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (signals_fd_ < 0 || wake_fd_ < 0) {
      int error = errno;
      close_descriptors();
      throw std::system_error(error, std::generic_category(), "signal descriptors");
    }
    g_wake_fd = wake_fd_;
    thread_ = std::thread([this] { run(); });
  }
  // Call with the stop signals blocked on the calling (main) thread.
  ~SignalThread() {
    stopping_ = true;
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
    thread_.join();
    g_wake_fd = -1;
    close_descriptors();
  }
  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

 private:
  void close_descriptors() {
    if (signals_fd_ >= 0) ::close(signals_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }

  void run() {
    for (;;) {
      pollfd fds[2] = {{signals_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
      int rc = ::poll(fds, 2, g_stop_signal != 0 ? 200 : -1);
      int stop_signal = g_stop_signal;
      if (stop_signal != 0 && !stop_logged_) {
        stop_logged_ = true;
        log::fs()->info("{}: stopping; extractions in flight are ended",
                        extract::signal_name(stop_signal));
        stopping_hook_();
      }
      if (stopping_) return;  // after the log: a stop may wake this thread only now
      if (rc == 0 && stop_signal != 0) ::pthread_kill(main_thread_, stop_signal);
      if (rc <= 0) continue;
      if (fds[1].revents != 0) {
        std::uint64_t count;
        [[maybe_unused]] ssize_t n = ::read(wake_fd_, &count, sizeof count);
      }
      signalfd_siginfo info;
      while (::read(signals_fd_, &info, sizeof info) == sizeof info) {
        handle(static_cast<int>(info.ssi_signo), static_cast<pid_t>(info.ssi_pid));
      }
    }
  }

  void handle(int signal, pid_t sender) {
    if (signal == SIGUSR1) {
      report_();
      return;
    }
    if (signal == SIGHUP) {
      reload(sender);
      return;
    }
    // Logged once per signal number at info level, so a sender in a loop cannot flood the log.
    auto level = seen_.insert(signal).second ? spdlog::level::info : spdlog::level::debug;
    log::fs()->log(level, "{} from pid {} ignored", extract::signal_name(signal), sender);
  }

  // SIGHUP (`systemctl reload`): re-opens the --log-file, for logrotate. Every option takes
  // effect at the next start; the mount stays.
  void reload(pid_t sender) const {
    if (!has_log_file_) {
      log::fs()->info("SIGHUP from pid {}: nothing to re-open (no --log-file); still mounted",
                      sender);
    } else if (log::reopen_log_file()) {
      log::fs()->info("SIGHUP from pid {}: log file re-opened; still mounted", sender);
    } else {
      log::fs()->error(
          "SIGHUP from pid {}: cannot re-open the log file: {}; still logging to "
          "the old one",
          sender, std::strerror(errno));
    }
  }

  std::function<void()> report_;
  std::function<void()> stopping_hook_;
  pthread_t main_thread_;
  bool has_log_file_;
  int signals_fd_ = -1;
  int wake_fd_ = -1;
  std::set<int> seen_;
  bool stop_logged_ = false;
  std::atomic<bool> stopping_{false};
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace

void setup_logging(const Options& options, bool to_terminal) {
  spdlog::sink_ptr sink;
  // Under systemd (the unit runs metafs in the foreground), the journal with priorities; in the
  // background, the journal too when there is one (else syslog, which may have no /dev/log).
  bool under_systemd = std::getenv("INVOCATION_ID") != nullptr;
  bool journal = std::getenv("JOURNAL_STREAM") != nullptr ||
                 ::access("/run/systemd/journal/socket", W_OK) == 0;
  if (!options.log_file.empty()) {
    sink = log::open_log_file(options.log_file);
  } else if (under_systemd || (!to_terminal && journal)) {
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
  extraction::set_logger(log::fs());  // the extraction layer logs as the daemon always has
  shared_tier::set_logger(log::fs());
}

int run_session(const Options& options) {
  // Before any thread exists, so that every thread inherits the mask: the stop signals reach
  // only the main thread (unblocked there around the loop), the watched ones only the signal
  // thread's signalfd. Sent earlier, they wait.
  sigset_t handled = watched_signals();
  for (int signal : kStopSignals) sigaddset(&handled, signal);
  ::pthread_sigmask(SIG_BLOCK, &handled, nullptr);
  install_signal_dispositions();
  try {
    setup_logging(options, true);
  } catch (const spdlog::spdlog_ex& e) {
    log::report_error("metafs", std::string("--log-file: ") + e.what());
    return kExitUsage;
  }
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
  // Declared after the filesystem: unmounted and destroyed before it, on every return below.
  FuseSession fuse(argv, operations(), filesystem.get());
  if (!fuse.ok()) {
    log::fs()->critical("cannot create the FUSE session (bad -o option?)");
    return kExitUsage;
  }
  std::string said;
  if (!fuse.mount(options.mountpoint, &said)) {
    log::fs()->critical("cannot mount on {}: {}", options.mountpoint.string(),
                        said.empty() ? "no reason given (is /dev/fuse available, and "
                                       "fusermount3 installed?)"
                                     : said);
    return 1;
  }
  fuse_session* session = fuse.get();
  log::fs()->info("metafs {} mounted {} on {}", kVersion, options.source.string(),
                  options.mountpoint.string());
  if (!options.foreground) {
    // Returns in the child, once the parent has been told we are live.
    fuse_daemonize(0);
    try {
      setup_logging(options, false);
    } catch (const spdlog::spdlog_ex&) {
      return 1;  // the file opened a moment ago: nowhere left to say why
    }
  }
  try {
    filesystem->start(session);
  } catch (const std::exception& e) {
    log::fs()->critical("cannot start: {}", e.what());
    filesystem->stop();  // no thread may notify the session once it is gone
    return 1;
  }

  int rc = 0;
  {
    // SIGUSR1 logs what /.metafs/stats.json shows, on one line.
    ControlFiles report(filesystem->stats(), [&fs = *filesystem] { return fs.control_extra(); });
    std::unique_ptr<SignalThread> signal_thread;
    try {
      signal_thread = std::make_unique<SignalThread>(
          [&report] {
            report.refresh(ControlFile::kStats);
            log::fs()->info("stats: {}", one_line(*report.content(ControlFile::kStats)));
          },
          // Requests waiting on an extraction would hold the stop up to --extract-timeout.
          [&fs = *filesystem] { fs.cancel_extractions(); }, ::pthread_self(),
          !options.log_file.empty());
    } catch (const std::exception& e) {
      log::fs()->warn("{}: SIGUSR1 and the other watched signals stay pending", e.what());
    }
    sd_notify(0, "READY=1");

    g_session = session;
    sigset_t stops = stop_signals();
    ::pthread_sigmask(SIG_UNBLOCK, &stops, nullptr);
    // A stop signal that waited during start-up has run its handler by now: skip the loop.
    if (g_stop_signal == 0) {
      fuse_loop_config* config = fuse_loop_cfg_create();
      fuse_loop_cfg_set_clone_fd(config, 0);
      fuse_loop_cfg_set_idle_threads(config, kIdleFuseThreads);
      fuse_loop_cfg_set_max_threads(config, kMaxFuseThreads);
      rc = fuse_session_loop_mt(session, config);
      fuse_loop_cfg_destroy(config);
    }
    ::pthread_sigmask(SIG_BLOCK, &stops, nullptr);  // later ones wait until exit
    signal_thread.reset();
  }
  // The loop returns 0 when the mount went away (fusermount3 -u) or a stop signal ended it.
  int stop_signal = g_stop_signal;
  sd_notify(0, "STOPPING=1");
  log::fs()->info("unmounting {}{}", options.mountpoint.string(),
                  stop_signal != 0 ? " (" + extract::signal_name(stop_signal) + ")" : "");
  filesystem->stop();      // no thread may notify the session once it is gone
  return rc == 0 ? 0 : 1;  // the session goes (unmounted), then the filesystem
}

}  // namespace metafs::fs
