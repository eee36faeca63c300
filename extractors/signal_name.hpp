#pragma once

#include <string.h>

#include <string>

namespace metafs::extract {

// "SIGSEGV" for SIGSEGV, "signal 64" for a signal without a name. For the daemon's log and
// for the errors of child processes (extractor workers, the cache verifier).
inline std::string signal_name(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

}  // namespace metafs::extract
