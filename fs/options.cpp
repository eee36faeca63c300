#include "options.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <thread>

#include "cache_dir.hpp"
#include "extraction/extraction_backend.hpp"
#include "field_index.hpp"
#include "log.hpp"
#include "option_declarations.hpp"
#include "shared_tier/path_permissions.hpp"
#include "version.hpp"

extern char** environ;

namespace metafs::fs {
namespace {

// The ranges of the numeric options: below or above them metafs would mount but not work
// (every extraction failing, no cache, mdb_env_open failing), so they are refused at once.
constexpr std::uint64_t kMiB = 1ull << 20;
constexpr std::uint64_t kMinCacheSize = kMiB;          // LMDB's own pages and a few records
constexpr std::uint64_t kMaxCacheSize = 4ull << 40;    // the map must fit the address space
constexpr std::uint64_t kMinMemoryLimit = kMiB;        // a quarter for the process, a few views
constexpr std::uint64_t kMinWorkerMemory = 64 * kMiB;  // the parsers' libraries and one file
constexpr unsigned kMaxWorkers = 256;
constexpr double kMaxSeconds = 86400;  // timeouts: one day at most
constexpr unsigned kMaxPrefetch = 4096;
constexpr std::size_t kMaxWatchesLimit = 1u << 24;

std::string size_text(std::uint64_t bytes) {
  if (bytes >= (1ull << 40) && bytes % (1ull << 40) == 0) return std::to_string(bytes >> 40) + "T";
  if (bytes >= (1ull << 30) && bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "G";
  return std::to_string(bytes >> 20) + "M";
}

// A number of seconds from 0 (or more than 0) up to kMaxSeconds; CLI11's Range would print
// its bounds with six decimals.
CLI::Validator seconds_range(bool zero_allowed) {
  return CLI::Validator(
      [zero_allowed](std::string& text) -> std::string {
        double value = 0;
        try {
          std::size_t used = 0;
          value = std::stod(text, &used);
          if (used != text.size()) throw std::invalid_argument(text);
        } catch (const std::exception&) {
          return "not a number of seconds: " + text;
        }
        bool low = zero_allowed ? value < 0 : value <= 0;
        if (!std::isfinite(value) || low || value > kMaxSeconds) {
          return text + ": must be " + (zero_allowed ? "0" : "more than 0") +
                 " to 86400 seconds (a day)";
        }
        return {};
      },
      "");
}

// Converts one size option; returns why it is refused, or "".
std::string parse_size_option(const std::string& name, const std::string& text, std::uint64_t min,
                              std::uint64_t max, std::uint64_t* out) {
  try {
    *out = cache::parse_size(text);
  } catch (const std::invalid_argument& e) {
    return name + ": " + e.what();
  }
  if (*out < min || *out > max) {
    std::string range = max == UINT64_MAX ? "at least " + size_text(min)
                                          : "between " + size_text(min) + " and " + size_text(max);
    return name + " " + text + ": must be " + range;
  }
  return {};
}

std::vector<std::string> split_commas(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Lazily unmounts a dead mount at `path` (fusermount3 for an unprivileged user).
bool detach_dead_mount(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH) == 0) return true;
  pid_t pid = 0;
  const char* argv[] = {"fusermount3", "-u", "-z", "--", path.c_str(), nullptr};
  if (::posix_spawnp(&pid, "fusermount3", nullptr, nullptr, const_cast<char* const*>(argv),
                     environ) != 0) {
    return false;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Whether `path` is the root of a mount (of any type): the kernel says so (statx, 5.8+), else
// its device differs from its parent's.
bool is_mount_root(const std::filesystem::path& path) {
  struct statx stx {};
  if (::statx(AT_FDCWD, path.c_str(), AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx) == 0 &&
      (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) != 0) {
    return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  }
  struct stat self {};
  struct stat parent {};
  if (::stat(path.c_str(), &self) != 0 || ::stat((path / "..").c_str(), &parent) != 0) {
    return false;
  }
  return self.st_dev != parent.st_dev || self.st_ino == parent.st_ino;
}

bool is_empty_directory(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::directory_iterator it(path, ec);
  return ec || it == std::filesystem::directory_iterator();  // unreadable: the mount says why
}

bool is_inside(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // trailing slash
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

}  // namespace

std::string resolve_worker_account(Options& options) {
  options.worker_uid = options.worker_gid = -1;
  if (::geteuid() != 0 || options.isolation != "process") return {};
  if (options.worker_user.empty()) {
    options.worker_user = ::getpwnam(extraction::kDedicatedWorkerUser) != nullptr
                              ? extraction::kDedicatedWorkerUser
                              : "nobody";
  }
  const struct passwd* account = ::getpwnam(options.worker_user.c_str());
  if (account == nullptr) return "--worker-user " + options.worker_user + ": no such user";
  if (account->pw_uid == 0) return "--worker-user " + options.worker_user + ": must not be root";
  options.worker_uid = account->pw_uid;
  options.worker_gid = account->pw_gid;
  return {};
}

void declare_shared_options(CLI::App& app, Options& options, SizeTexts& sizes) {
  app.add_option("--cache-dir", options.cache_dir,
                 "Where the metadata cache lives (default: $CACHE_DIRECTORY, else "
                 "$XDG_CACHE_HOME/metafs or ~/.cache/metafs; one cache per SOURCE)");
  app.add_option("--cache-size", sizes.cache_size, "Hard limit of the on-disk cache, e.g. 512M, 1G")
      ->capture_default_str();
  app.add_option("--index-fields", options.index_fields,
                 "Field paths the query index holds, comma-separated, with * and ** globs; "
                 "\"default\" stands for the defaults (README, Queries): "
                 "--index-fields default,0/NAXIS1")
      ->capture_default_str();
  app.add_option("--memory-limit", sizes.memory_limit,
                 "Memory of the daemon, e.g. 64M: 16 MiB (a quarter at most) for the process "
                 "itself, the rest for what grows with the number of files (metadata, inodes "
                 "the kernel holds, detections)")
      ->capture_default_str();
  app.add_option("--workers", options.workers, "Extractions run at once (default: number of CPUs)")
      ->check(CLI::Range(1u, kMaxWorkers));
  app.add_option("--extract-timeout", options.extract_timeout,
                 "Seconds one file's extraction may take")
      ->capture_default_str()
      ->check(seconds_range(false));
  app.add_option("--isolation", options.isolation,
                 "Where parsers run: process (sandboxed worker processes) or none (inside the "
                 "daemon; for benchmarks and debugging only)")
      ->capture_default_str()
      ->check(CLI::IsMember({"process", "none"}));
  app.add_option("--worker-memory", sizes.worker_memory,
                 "Memory limit of each worker process (RLIMIT_DATA: its heap and private writable "
                 "mappings), e.g. 1G")
      ->capture_default_str();
  app.add_option("--worker-user", options.worker_user,
                 "Account the worker processes run as when metafs runs as root: they get only "
                 "the descriptor of the file to read, and this user's rights on nothing else "
                 "(default: metafs-worker when that account exists, else nobody; create it with "
                 "systemd-sysusers or useradd --system --no-create-home --shell "
                 "/usr/sbin/nologin metafs-worker: processes of a shared account such as nobody "
                 "could signal the workers)");
  app.add_option("--worker-recycle", options.worker_recycle,
                 "Files a worker extracts before it is replaced")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000000u));
  app.add_option("--log-level", options.log_level, "trace, debug, info, warn, error or off")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  app.add_option("--shared-cache", options.shared_cache,
                 "A PostgreSQL database shared by every node (libpq URI, e.g. "
                 "postgresql://node01@db/metafs): asked after the local cache misses, before "
                 "extracting, and given every extraction (README \"Many machines\")")
      ->type_name("URI");
  app.add_option("--shared-root", options.shared_root,
                 "The name of SOURCE in the shared cache, the same on every node that mounts the "
                 "same tree (default: the canonical SOURCE path)")
      ->type_name("NAME");
  app.add_option("--shared-timeout", options.shared_timeout_ms,
                 "Milliseconds a lookup may wait for the shared cache before extracting locally")
      ->capture_default_str()
      ->check(CLI::Range(1u, 10000u));
}

std::string apply_sizes(const SizeTexts& sizes, Options& options) {
  for (std::string error :
       {parse_size_option("--cache-size", sizes.cache_size, kMinCacheSize, kMaxCacheSize,
                          &options.cache_size),
        parse_size_option("--memory-limit", sizes.memory_limit, kMinMemoryLimit, UINT64_MAX,
                          &options.memory_limit),
        parse_size_option("--worker-memory", sizes.worker_memory, kMinWorkerMemory, UINT64_MAX,
                          &options.worker_memory)}) {
    if (!error.empty()) return error;
  }
  return {};
}

int usage_exit(CLI::App& app, const CLI::ParseError& error, std::string_view program) {
  if (error.get_exit_code() == 0) return app.exit(error);  // --help, --version
  log::report_error(program, error.what());
  std::cerr << "Run with --help for more information.\n";
  return kExitUsage;
}

std::string validate_shared_options(Options& options) {
  if (options.workers == 0) options.workers = std::max(1u, std::thread::hardware_concurrency());
  if (std::string error = resolve_worker_account(options); !error.empty()) return error;
  if (options.extract_timeout <= 0) return "--extract-timeout must be positive";
  if (!options.shared_root.empty() && options.shared_cache.empty()) {
    return "--shared-root needs --shared-cache";
  }
  bool utf8 = false;
  shared_tier::valid_utf8(options.shared_root, &utf8);
  if (!utf8) return "--shared-root must be UTF-8 text";
  try {
    query::parse_index_fields(options.index_fields);
  } catch (const query::QueryError& e) {
    return "--index-fields " + options.index_fields + ": " + e.what();
  }
  return {};
}

std::optional<Options> parse_options(int argc, char** argv, int* exit_code) {
  Options options;
  CLI::App app{
      "metafs: mount SOURCE at MOUNTPOINT read-only, showing every DICOM, FITS, HDF5 and NetCDF\n"
      "file as a directory of small metadata files (format, fields/, metadata.txt,\n"
      "metadata.json, header.txt) and the file itself (X/X, identical bytes). Other files are\n"
      "passed through unchanged.\n"
      "Unmount with: fusermount3 -u MOUNTPOINT"};
  app.get_formatter()->column_width(34);
  std::string source, mountpoint, log_file;
  SizeTexts sizes;
  std::vector<std::string> fuse_options;
  app.add_option("SOURCE", source, "Directory to mirror")->required();
  app.add_option("MOUNTPOINT", mountpoint, "Empty directory to mount on (outside SOURCE)")
      ->required();
  app.add_flag("-f,--foreground", options.foreground,
               "Stay in the foreground and log to the terminal (default: detach once mounted)");
  app.add_flag("-d,--debug", options.debug,
               "Print every FUSE request and debug logs (implies --foreground)");
  app.add_option("-o", fuse_options,
                 "Mount options, comma-separated: allow_other, default_permissions, nonempty "
                 "(mount over a non-empty directory), ... (the mount is always read-only)")
      ->type_name("OPT[,OPT...]");
  app.add_flag("--no-cache", options.no_cache, "Keep no cache on disk");
  declare_shared_options(app, options, sizes);
  app.add_option("--prefetch", options.prefetch,
                 "When a data file's metadata is read, extract this many of the files after it "
                 "in its directory (by name; past its last file, the first ones of the next "
                 "directory by name) in the background, so that a reader going through a "
                 "directory finds them ready (0: only what is asked for)")
      ->capture_default_str()
      ->check(CLI::Range(0u, kMaxPrefetch));
  std::string fields = "hidden";
  app.add_option("--fields", fields,
                 "Whether a data file's directory lists fields/: hidden (walkers such as find, "
                 "updatedb, du and backups skip it; it stays reachable by name: cat "
                 "X/fields/Modality, ls X/fields/) or visible")
      ->capture_default_str()
      ->check(CLI::IsMember({"hidden", "visible"}));
  app.add_option("--entry-timeout", options.entry_timeout,
                 "Seconds the kernel may cache names in a source directory metafs cannot watch")
      ->capture_default_str()
      ->check(seconds_range(true));
  app.add_option("--attr-timeout", options.attr_timeout,
                 "Seconds the kernel may cache attributes in a source directory metafs cannot "
                 "watch")
      ->capture_default_str()
      ->check(seconds_range(true));
  app.add_option("--watch-timeout", options.watch_timeout,
                 "Seconds the kernel may cache names and attributes in a watched source "
                 "directory, whose listing it keeps until it changes (changes there are pushed "
                 "to the kernel at once; filesystems inotify cannot follow, such as NFS, SMB or "
                 "FUSE, are not watched)")
      ->capture_default_str()
      ->check(seconds_range(true));
  app.add_option("--max-watches", options.max_watches,
                 "Source directories watched for changes at most (inotify)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{0}, kMaxWatchesLimit));
  app.add_option("--log-file", log_file,
                 "Log to FILE (appended; re-opened on SIGHUP, for logrotate) instead of the "
                 "terminal, the journal or syslog");
  app.set_version_flag("-V,--version", [] { return version_text("metafs"); });
  app.footer(
      "Examples:\n"
      "  metafs /data/archive /mnt/meta\n"
      "  metafs -f -o allow_other,default_permissions /data/archive /mnt/meta\n"
      "  cat /mnt/meta/study/scan001.dcm/fields/Modality\n"
      "      (fields/ is hidden from listings but reachable by name; --fields=visible lists it)\n"
      "  cat /mnt/meta/.metafs/stats.json");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    *exit_code = usage_exit(app, e, "metafs");
    return std::nullopt;
  }
  auto fail = [&](const std::string& message) {
    log::report_error("metafs", message);
    *exit_code = kExitUsage;
    return std::nullopt;
  };
  if (std::string error = apply_sizes(sizes, options); !error.empty()) return fail(error);
  options.fields_visible = fields == "visible";
  for (const auto& list : fuse_options) {
    for (auto& option : split_commas(list)) {
      if (option == "allow_other") options.allow_other = true;
      if (option == "rw") return fail("the mount is read-only; option 'rw' is not supported");
      // libfuse 3 no longer knows it: metafs's own check, not passed on.
      if (option == "nonempty") {
        options.nonempty = true;
        continue;
      }
      options.fuse_options.push_back(option);
    }
  }
  // Resolved now: in the background the daemon runs in / (fuse_daemonize).
  if (!log_file.empty()) options.log_file = std::filesystem::absolute(log_file);
  if (options.debug) {
    options.foreground = true;
    if (options.log_level == "info") options.log_level = "debug";
  }
  if (std::string error = validate_shared_options(options); !error.empty()) return fail(error);
  if (std::string error = prepare_paths(source, mountpoint, &options); !error.empty()) {
    return fail(error);
  }
  return options;
}

std::string prepare_paths(const std::string& source, const std::string& mountpoint,
                          Options* options) {
  std::error_code ec;
  std::filesystem::path source_path = std::filesystem::canonical(source, ec);
  if (ec) return "source '" + source + "': " + ec.message();
  if (!std::filesystem::is_directory(source_path)) {
    return "source '" + source + "' is not a directory";
  }
  if (::access(source_path.c_str(), R_OK | X_OK) != 0) {
    return "source '" + source + "' is not readable: " + std::strerror(errno);
  }
  if (std::string error = detach_if_dead(mountpoint); !error.empty()) return error;
  std::filesystem::path mount_path = std::filesystem::canonical(mountpoint, ec);
  if (ec) {
    return "mountpoint '" + mountpoint + "': " + ec.message() + " (create it first: mkdir -p " +
           mountpoint + ")";
  }
  if (!std::filesystem::is_directory(mount_path)) {
    return "mountpoint '" + mountpoint + "' is not a directory";
  }
  if (is_inside(mount_path, source_path)) {
    return "mountpoint '" + mountpoint + "' is inside source '" + source +
           "': the mount would mirror itself; choose a mountpoint outside the source";
  }
  if (is_inside(source_path, mount_path)) {
    return "source '" + source + "' is inside mountpoint '" + mountpoint +
           "': mounting would hide it";
  }
  if (is_mount_root(mount_path)) {
    return "mountpoint '" + mountpoint +
           "' is already a mount point: unmount it first, or choose another directory";
  }
  if (!options->nonempty && !is_empty_directory(mount_path)) {
    return "mountpoint '" + mountpoint +
           "' is not empty: the mount would hide its files (-o nonempty mounts anyway)";
  }
  options->source = source_path;
  options->mountpoint = mount_path;
  // Resolved now: in the background the daemon runs in / (fuse_daemonize).
  if (!options->cache_dir.empty())
    options->cache_dir = std::filesystem::absolute(options->cache_dir);
  if (options->cache_dir.empty()) options->cache_dir = cache::default_cache_dir(source_path);
  return {};
}

std::string detach_if_dead(const std::string& mountpoint) {
  // A dead FUSE mount, e.g. of a metafs that was killed, answers statfs with ENOTCONN or
  // ECONNABORTED (its cached attributes may still look fine): detach it and take its place.
  struct statvfs vfs {};
  if (::statvfs(mountpoint.c_str(), &vfs) != 0 && (errno == ENOTCONN || errno == ECONNABORTED)) {
    std::cerr << "metafs: " << mountpoint << " is a dead mount; unmounting it\n";
    if (!detach_dead_mount(mountpoint)) {
      return "mountpoint '" + mountpoint + "' is a dead mount that cannot be unmounted " +
             "(try: fusermount3 -u -z " + mountpoint + ")";
    }
  }
  return {};
}

}  // namespace metafs::fs
