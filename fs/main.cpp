// metafs: the daemon's start-up. Everything else lives in the fs library.
#include "options.hpp"
#include "session.hpp"

int main(int argc, char** argv) {
  int exit_code = 0;
  auto options = metafs::fs::parse_options(argc, argv, &exit_code);
  if (!options) return exit_code;
  return metafs::fs::run_session(*options);
}
