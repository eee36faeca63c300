#pragma once

#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <string_view>

namespace metafs::fs::log {

// The "fs" logger (created on first use; sinks are set up by the session).
std::shared_ptr<spdlog::logger> fs();

// Prints "PROGRAM: MESSAGE" on stderr, for errors before logging is set up (the command line,
// the paths). When stderr is the journal (systemd's JOURNAL_STREAM), the line starts with
// "<3>" so that the journal files it at err priority (SyslogLevelPrefix=, on by default).
void report_error(std::string_view program, std::string_view message);

// A sink that appends to `path` (created 0600 when missing) and can re-open it after
// logrotate moved it away. Throws spdlog::spdlog_ex when it cannot be opened.
spdlog::sink_ptr open_log_file(const std::filesystem::path& path);

// Re-opens the file of the last open_log_file() (on SIGHUP). Returns false, with errno, when
// there is none or it cannot be opened (logging then goes on to the old file).
bool reopen_log_file();

}  // namespace metafs::fs::log
