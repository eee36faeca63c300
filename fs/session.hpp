#pragma once

#include "options.hpp"

namespace metafs::fs {

// Mounts, serves until unmounted or signalled (SIGTERM, SIGINT, SIGHUP), unmounts cleanly.
// Detaches from the terminal once the mount is live unless options.foreground; tells systemd
// READY=1 / STOPPING=1 when started by it. Returns the process exit code.
int run_session(const Options& options);

// Sends logs to the journal under systemd ($INVOCATION_ID), else to the terminal
// (`to_terminal`) or syslog.
void setup_logging(const Options& options, bool to_terminal);

}  // namespace metafs::fs
