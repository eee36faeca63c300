#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace metafs::fs {

// The exit status of metafs, metafs-index and metafs-extract (README "Exit status"): a usage
// or configuration error is 2, which the unit does not restart (RestartPreventExitStatus=2).
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

struct Options {
  std::filesystem::path source;
  std::filesystem::path mountpoint;
  bool foreground = false;
  bool debug = false;  // libfuse's request trace, and debug logging
  std::string log_level = "info";
  std::vector<std::string> fuse_options;  // from -o, split at commas (without nonempty)
  bool nonempty = false;                  // -o nonempty: mount over a non-empty directory
  std::filesystem::path log_file;         // --log-file, absolute; empty: journal/syslog/stderr
  std::filesystem::path cache_dir;        // empty: the default for this source
  std::uint64_t cache_size = 1ull << 30;
  // --index-fields: the field paths the query index holds ("default" for the defaults).
  std::string index_fields = "default";
  std::uint64_t memory_limit = 128ull << 20;
  bool no_cache = false;
  unsigned workers = 0;             // 0: number of CPUs
  double entry_timeout = 1.0;       // seconds the kernel may cache mirrored names
  double attr_timeout = 1.0;        // seconds the kernel may cache mirrored attributes
  double watch_timeout = 300.0;     // the same, inside source directories watched by inotify
  std::size_t max_watches = 65536;  // inotify watches (source directories the kernel knows)
  double extract_timeout = 10.0;
  std::string isolation = "process";         // "process": sandboxed workers; "none": in-process
  std::uint64_t worker_memory = 1ull << 30;  // memory limit (RLIMIT_DATA) of one worker
  unsigned worker_recycle = 1000;            // files a worker extracts before it is replaced
  // Account workers run as when started by root; "": metafs-worker if it exists, else nobody.
  std::string worker_user;
  // worker_user resolved (when the daemon runs as root; -1 otherwise: workers keep our ids).
  long worker_uid = -1;
  long worker_gid = -1;
  unsigned prefetch = 16;  // files after the one read in its directory extracted ahead (0: off)
  // --fields=visible: a data file's directory lists fields/. Hidden by default, as ZFS hides
  // .zfs: walkers (find, updatedb, du, backups) would otherwise see hundreds of files per data
  // file; it stays reachable by name.
  bool fields_visible = false;
  bool allow_other = false;  // derived from -o
  // The shared tier (PostgreSQL): --shared-cache URI, --shared-root NAME (default: the
  // canonical SOURCE path), --shared-timeout ms a lookup may wait.
  std::string shared_cache;
  std::string shared_root;
  unsigned shared_timeout_ms = 50;
};

// When this process is root and extractions run in worker processes: sets worker_uid and
// worker_gid from worker_user (workers never run as root; "" picks extraction::kDedicatedWorkerUser
// when it exists, else nobody). Returns why it cannot, or "".
std::string resolve_worker_account(Options& options);

// Parses the command line: declares the options (option_declarations.hpp: those shared with
// metafs-index), validates them, then prepares the paths (prepare_paths). Returns the
// options, or std::nullopt after printing --help, --version or an error; *exit_code then says
// how to exit (0 or 2).
std::optional<Options> parse_options(int argc, char** argv, int* exit_code);

// Checks that SOURCE is a readable directory and MOUNTPOINT an existing directory outside it
// (a dead mount there detached first: detach_if_dead), neither a live mount point nor, unless
// -o nonempty, a non-empty directory, and sets options->source, ->mountpoint
// and ->cache_dir (absolute; by default from the canonical SOURCE). Returns why not, or "".
std::string prepare_paths(const std::string& source, const std::string& mountpoint,
                          Options* options);

// A dead FUSE mount at `mountpoint` (its daemon killed) is lazily unmounted, so a new daemon
// can take its place. Returns why it could not be, or "".
std::string detach_if_dead(const std::string& mountpoint);

}  // namespace metafs::fs
