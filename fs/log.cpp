#include "log.hpp"

#include <fcntl.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>

namespace metafs::fs::log {
namespace {

// Appends formatted lines to a file; reopen() swaps the descriptor under the sink's lock.
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(std::filesystem::path path) : path_(std::move(path)) {
    fd_ = open_file();
    if (fd_ < 0) {
      throw spdlog::spdlog_ex("cannot open log file " + path_.string(), errno);
    }
  }
  ~ReopenableFileSink() override { ::close(fd_); }
  ReopenableFileSink(const ReopenableFileSink&) = delete;
  ReopenableFileSink& operator=(const ReopenableFileSink&) = delete;

  bool reopen() {
    int fd = open_file();
    if (fd < 0) return false;
    std::lock_guard lock(mutex_);
    ::close(fd_);
    fd_ = fd;
    return true;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    // O_APPEND: one write per line, whole lines even when logrotate copies and truncates.
    [[maybe_unused]] ssize_t n = ::write(fd_, formatted.data(), formatted.size());
  }
  void flush_() override {}

 private:
  int open_file() const {
    return ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  }

  std::filesystem::path path_;
  int fd_ = -1;
};

std::mutex g_file_mutex;
std::shared_ptr<ReopenableFileSink> g_file;

// systemd connects stderr to the journal and says so in JOURNAL_STREAM ("device:inode").
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  unsigned long long device = 0, inode = 0;
  if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
  return device == st.st_dev && inode == st.st_ino;
}

}  // namespace

std::shared_ptr<spdlog::logger> fs() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("fs")) return existing;
    auto created = spdlog::stderr_color_mt("fs");
    return created;
  }();
  return logger;
}

void report_error(std::string_view program, std::string_view message) {
  std::string line = stderr_is_journal() ? "<3>" : "";
  line.append(program).append(": ").append(message).append("\n");
  std::cerr << line << std::flush;
}

spdlog::sink_ptr open_log_file(const std::filesystem::path& path) {
  auto sink = std::make_shared<ReopenableFileSink>(path);
  std::lock_guard lock(g_file_mutex);
  g_file = sink;
  return sink;
}

bool reopen_log_file() {
  std::lock_guard lock(g_file_mutex);
  if (g_file == nullptr) {
    errno = ENOENT;
    return false;
  }
  return g_file->reopen();
}

}  // namespace metafs::fs::log
