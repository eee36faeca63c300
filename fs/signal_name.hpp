#pragma once

#include <string.h>

#include <string>

namespace metafs::fs {

// "SIGSEGV" for SIGSEGV, "signal 64" for a signal without a name.
inline std::string signal_name(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

}  // namespace metafs::fs
