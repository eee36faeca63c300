#pragma once

#include "options.hpp"

namespace metafs::fs {

// Mounts, serves until unmounted or stopped by SIGTERM, SIGINT or SIGQUIT (also when
// inherited ignored), unmounts cleanly. SIGHUP re-opens the --log-file and never unmounts;
// SIGUSR1 logs the stats; SIGUSR2, SIGALRM and the other signals whose default would kill the
// daemon are ignored. Must be called before any thread
// is started (it sets the signal mask every thread inherits). Detaches from the terminal once
// the mount is live unless options.foreground; tells systemd READY=1 / STOPPING=1 when started
// by it. Returns the process exit code.
int run_session(const Options& options);

// Sends logs to options.log_file when set; else to the journal under systemd
// ($INVOCATION_ID), else to the terminal (`to_terminal`), else to the journal when there is
// one, else syslog. Throws spdlog::spdlog_ex when the log file cannot be opened.
void setup_logging(const Options& options, bool to_terminal);

}  // namespace metafs::fs
