// metafs-index: fills the metadata cache for a whole SOURCE tree exactly as the daemon would
// (same cache directory default, same keys, same extraction backend), so that a later mount
// of SOURCE answers every file from the cache with no extraction: the way a service warms up
// before users arrive.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cache_dir.hpp"
#include "extraction/dir_stream.hpp"
#include "extraction/extraction_backend.hpp"
#include "extraction/extraction_service.hpp"
#include "extraction/source_tree.hpp"
#include "instance_config.hpp"
#include "log.hpp"
#include "metadata_cache.hpp"
#include "option_declarations.hpp"
#include "options.hpp"
#include "service_setup.hpp"
#include "session.hpp"
#include "stats.hpp"
#include "version.hpp"

namespace {

namespace fs = metafs::fs;
namespace cache = metafs::cache;
namespace extraction = metafs::extraction;
using metafs::extract::Format;
using Clock = std::chrono::steady_clock;

constexpr const char* kControlDirName = ".metafs";  // hidden by the mount at its root
constexpr std::size_t kMaxListedErrors = 20;
constexpr unsigned kMaxThreads = 64;

std::atomic<bool> g_interrupted{false};

void on_signal(int) {
  g_interrupted = true;
}

struct IndexSettings {
  fs::Options options;
  bool progress = true;
  bool json = false;
  // --shard K/N: only the files whose path hash is K modulo N (N = 1: every file).
  std::uint64_t shard = 0;
  std::uint64_t shards = 1;
};

// FNV-1a (64 bits) of the path relative to SOURCE: fixed here for good, so that a file's shard
// depends on its own path only (stable as the tree grows, the same on every node and build).
std::uint64_t path_hash(const std::string& rel) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : rel) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// "K/N" with 0 <= K < N; false when `text` is not that.
bool parse_shard(const std::string& text, std::uint64_t* shard, std::uint64_t* shards) {
  std::size_t slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return false;
  std::string k = text.substr(0, slash), n = text.substr(slash + 1);
  auto digits = [](const std::string& t) {
    return t.size() <= 9 &&
           std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(k) || !digits(n)) return false;
  *shard = std::stoull(k);
  *shards = std::stoull(n);
  return *shards >= 1 && *shard < *shards;
}

// Parses the command line into the daemon's own Options; returns false after printing help
// or an error (*exit_code says how to exit).
bool parse_command_line(int argc, char** argv, IndexSettings* settings, int* exit_code) {
  fs::Options& options = settings->options;
  options.log_level = "error";
  auto fail = [&](const std::string& message) {
    fs::log::report_error("metafs-index", message);
    *exit_code = fs::kExitUsage;
    return false;
  };
  std::string instance;
  std::vector<std::string> instance_args;
  if (std::string error = metafs::tools::instance_arguments(argc, argv, &instance_args, &instance);
      !error.empty()) {
    return fail(error);
  }
  CLI::App app{
      "metafs-index: fill the metafs cache for every file under SOURCE, exactly as the daemon\n"
      "would, so a later `metafs SOURCE MOUNTPOINT` with the same cache options extracts\n"
      "nothing. Progress (files/s, ETA, errors) on stderr, a summary at the end."};
  app.get_formatter()->column_width(34);
  // An option given twice (in the instance's OPTIONS, then on the command line): the last wins.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string source;
  fs::SizeTexts sizes;
  app.add_option("SOURCE", source, "Directory the daemon will mirror (or --instance)");
  // The daemon's own declarations: the same names, defaults and checks.
  fs::declare_shared_options(app, options, sizes);
  std::string instance_option, config_dir_option;
  app.add_option("--instance", instance_option,
                 "Warm the cache of the unit metafs@NAME: SOURCE and OPTIONS from "
                 "CONFIG_DIR/NAME.conf, the cache in /var/cache/metafs/NAME (its "
                 "CacheDirectory=), one subdirectory per SOURCE as the daemon makes it")
      ->type_name("NAME");
  app.add_option("--config-dir", config_dir_option,
                 "Where --instance finds NAME.conf (default: $METAFS_CONFIG_DIR, else "
                 "/etc/metafs)")
      ->type_name("DIR");
  // What only a mount uses, accepted (and ignored) so that an instance's OPTIONS parse.
  std::vector<std::string> mount_only;
  bool mount_flag = false;
  for (const char* name : {"-o", "--prefetch", "--entry-timeout", "--attr-timeout",
                           "--watch-timeout", "--max-watches", "--log-file", "--fields"}) {
    app.add_option(name, mount_only)
        ->group("")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }
  app.add_flag("-f,--foreground,-d,--debug,--no-cache", mount_flag)->group("");
  bool no_progress = false;
  app.add_flag("--no-progress", no_progress, "No progress line");
  std::string shard_text;
  app.add_option("--shard", shard_text,
                 "Index only slice K of N (0 <= K < N): the files whose path hash (FNV-1a of the "
                 "path under SOURCE) is K modulo N, so N jobs (a Slurm array, GNU parallel, "
                 "xargs -P) index a tree between them, each file once, into --shared-cache")
      ->type_name("K/N");
  app.add_flag("--json", settings->json, "Print the summary as JSON on stdout");
  app.set_version_flag("-V,--version", [] { return metafs::version_text("metafs-index"); });
  app.footer(
      "Examples:\n"
      "  metafs-index /data/archive && metafs /data/archive /mnt/meta\n"
      "  metafs-index --instance archive && systemctl start metafs@archive\n"
      "  metafs-index /data/archive --cache-dir /srv/cache --workers 8\n"
      "  metafs-index /data/archive --shared-cache postgresql://db/metafs --shared-root archive "
      "--shard 3/16");
  try {
    if (instance.empty()) {
      app.parse(argc, argv);
    } else {
      std::vector<const char*> pointers;
      for (const auto& arg : instance_args) pointers.push_back(arg.c_str());
      app.parse(static_cast<int>(pointers.size()), pointers.data());
    }
  } catch (const CLI::ParseError& e) {
    *exit_code = fs::usage_exit(app, e, "metafs-index");
    return false;
  }
  if (source.empty()) return fail("SOURCE is required (or --instance NAME)");
  if (std::string error = fs::apply_sizes(sizes, options); !error.empty()) return fail(error);
  settings->progress = !no_progress;
  if (!shard_text.empty() && !parse_shard(shard_text, &settings->shard, &settings->shards)) {
    return fail("--shard " + shard_text + ": must be K/N with 0 <= K < N, e.g. 3/16");
  }
  if (std::string error = fs::validate_shared_options(options); !error.empty()) {
    return fail(error);
  }
  if (std::string error = metafs::tools::resolve_source_and_cache(source, instance, &options);
      !error.empty()) {
    return fail(error);
  }
  return true;
}

// Every regular file under the source root (relative paths), found without following
// symlinks, the way the mount lists directories.
std::vector<std::string> list_files(const extraction::SourceTree& source, bool progress,
                                    std::uint64_t shard, std::uint64_t shards) {
  std::vector<std::string> files;
  std::vector<std::string> pending = {""};
  auto last_report = Clock::now();
  while (!pending.empty() && !g_interrupted) {
    std::string dir_rel = std::move(pending.back());
    pending.pop_back();
    extraction::DirStream stream(source.open_dir(dir_rel));
    if (!stream.ok()) continue;  // unreadable: the mount shows it as an error too
    DIR* dir = stream.get();
    while (struct dirent* d = ::readdir(dir)) {
      std::string name = d->d_name;
      if (name == "." || name == "..") continue;
      if (dir_rel.empty() && name == kControlDirName) continue;
      std::string rel = extraction::join_relative(dir_rel, name);
      unsigned char type = d->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (source.lstat(rel, &st) < 0) continue;
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
      }
      if (type == DT_DIR) {
        pending.push_back(std::move(rel));
      } else if (type == DT_REG && (shards == 1 || path_hash(rel) % shards == shard)) {
        files.push_back(std::move(rel));
      }
    }
    if (progress && Clock::now() - last_report > std::chrono::milliseconds(500)) {
      last_report = Clock::now();
      std::fprintf(stderr, "\rmetafs-index: listing: %zu files", files.size());
    }
  }
  if (progress) std::fprintf(stderr, "\rmetafs-index: listing: %zu files\n", files.size());
  return files;
}

struct Counters {
  std::atomic<std::size_t> next{0};  // index of the next file to take
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> data{0};
  std::atomic<std::uint64_t> vanished{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> by_format[5] = {};
  std::mutex errors_mutex;
  std::vector<std::pair<std::string, std::string>> errors;  // the first kMaxListedErrors
};

void index_file(const extraction::SourceTree& source, extraction::ExtractionService& service,
                const std::string& rel, Counters& counters) {
  struct stat st {};
  if (source.lstat(rel, &st) < 0 || !S_ISREG(st.st_mode)) {
    ++counters.vanished;
    return;
  }
  Format format = service.detect(rel, st);
  if (format == Format::kNone) return;
  ++counters.data;
  ++counters.by_format[std::min<std::size_t>(static_cast<std::size_t>(format), 4)];
  std::string error;
  try {
    auto view = service.view(*service.version(rel, st, format));
    if (view->extraction().failed()) error = view->extraction().error;
  } catch (const std::exception& e) {
    error = e.what();
  }
  if (error.empty()) return;
  ++counters.failed;
  std::lock_guard lock(counters.errors_mutex);
  if (counters.errors.size() < kMaxListedErrors) counters.errors.emplace_back(rel, error);
}

std::string clock_text(double seconds) {
  auto s = static_cast<long long>(seconds + 0.5);
  char text[32];
  if (s >= 3600) {
    std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
  }
  return text;
}

void print_progress(const Counters& counters, std::size_t total, Clock::time_point start,
                    bool final_line) {
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::uint64_t done = counters.done;
  double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  double eta =
      rate > 0 ? static_cast<double>(total - std::min<std::uint64_t>(done, total)) / rate : 0;
  int percent =
      total ? static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total))
            : 100;
  std::fprintf(stderr,
               "%smetafs-index: [%3d%%] %llu/%zu files, %llu data, %.0f files/s, ETA %s, "
               "errors %llu   %s",
               isatty(STDERR_FILENO) ? "\r" : "", percent, static_cast<unsigned long long>(done),
               total, static_cast<unsigned long long>(counters.data.load()), rate,
               clock_text(eta).c_str(), static_cast<unsigned long long>(counters.failed.load()),
               final_line || !isatty(STDERR_FILENO) ? "\n" : "");
}

std::uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

int run(const IndexSettings& settings) {
  const fs::Options& options = settings.options;
  fs::setup_logging(options, true);
  fs::Stats stats;
  std::unique_ptr<extraction::SourceTree> source;
  try {
    source = std::make_unique<extraction::SourceTree>(options.source);
  } catch (const std::exception& e) {
    std::cerr << "metafs-index: " << e.what() << "\n";
    return 1;
  }
  // The daemon's own settings, so keys and budgets match a mount's.
  cache::CacheOptions cache_options = fs::cache_options_for(options);
  cache_options.enabled = true;
  // What is extracted here is the point: wait for the disk writer rather than drop a record
  // (at 10^6 files the writer falls behind two workers).
  cache_options.wait_for_room = true;
  cache::MetadataCache metadata_cache(cache_options);
  if (!metadata_cache.stats().disk_enabled) {
    std::cerr << "metafs-index: the cache in " << options.cache_dir
              << " cannot be used (see the log above): nothing would be kept\n";
    return 1;
  }
  auto service = std::make_unique<extraction::ExtractionService>(
      *source, fs::service_options_for(options), stats,
      extraction::make_extraction_backend(fs::backend_settings_for(options)), metadata_cache);
  std::unique_ptr<metafs::shared_tier::SharedTier> shared;
  if (!options.shared_cache.empty()) {
    metafs::shared_tier::SharedTierOptions shared_options = fs::shared_tier_options_for(options);
    // A batch job waits for the server rather than extract what another node may have.
    shared_options.lookup_timeout =
        std::max(shared_options.lookup_timeout, std::chrono::milliseconds(2000));
    shared_options.max_queued_rows = 100000;
    shared = std::make_unique<metafs::shared_tier::SharedTier>(std::move(shared_options));
    if (!shared->stats().up) {
      std::cerr << "metafs-index: the shared cache cannot be reached (see the log above)\n";
      return 1;
    }
    service->set_shared_tier(shared.get());
  }

  auto start = Clock::now();
  std::vector<std::string> files =
      list_files(*source, settings.progress, settings.shard, settings.shards);
  Counters counters;
  // Threads beyond the extraction slots overlap detection and cache lookups with extraction.
  unsigned thread_count = std::min(kMaxThreads, std::max(2u, options.workers * 2));
  std::vector<std::thread> threads;
  auto work_start = Clock::now();
  for (unsigned t = 0; t < thread_count; ++t) {
    threads.emplace_back([&] {
      while (!g_interrupted) {
        std::size_t i = counters.next++;
        if (i >= files.size()) break;
        index_file(*source, *service, files[i], counters);
        ++counters.done;
      }
    });
  }
  auto last_report = Clock::now();
  while (counters.done < files.size() && !g_interrupted) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    bool tty = isatty(STDERR_FILENO);
    auto every = tty ? std::chrono::milliseconds(250) : std::chrono::milliseconds(2000);
    if (settings.progress && Clock::now() - last_report >= every) {
      last_report = Clock::now();
      print_progress(counters, files.size(), work_start, false);
    }
  }
  for (auto& thread : threads) thread.join();
  if (settings.progress) print_progress(counters, files.size(), work_start, true);
  service.reset();  // workers stopped before the cache is flushed and closed
  metadata_cache.flush();
  metafs::shared_tier::SharedTierStats shared_stats;
  if (shared) {
    // Every row written before the summary; a server gone meanwhile loses only sharing.
    shared->flush(std::chrono::minutes(10));
    shared_stats = shared->stats();
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  cache::CacheStats c = metadata_cache.stats();
  auto lat = stats.extraction_latency.snapshot();
  nlohmann::json summary = {
      {"source", options.source.string()},
      {"cache_dir", options.cache_dir.string()},
      {"interrupted", g_interrupted.load()},
      {"files", counters.done.load()},
      {"data_files", counters.data.load()},
      {"dicom", counters.by_format[static_cast<int>(Format::kDicom)].load()},
      {"fits", counters.by_format[static_cast<int>(Format::kFits)].load()},
      {"hdf5", counters.by_format[static_cast<int>(Format::kHdf5)].load()},
      {"netcdf", counters.by_format[static_cast<int>(Format::kNetcdf)].load()},
      {"vanished", counters.vanished.load()},
      {"extractions", stats.extractions.load()},
      {"already_cached",
       counters.data.load() - std::min(counters.data.load(), stats.extractions.load())},
      {"errors", counters.failed.load()},
      {"seconds", elapsed},
      {"files_per_second", elapsed > 0 ? static_cast<double>(counters.done) / elapsed : 0},
      {"extraction_p50_ms", lat.p50 * 1e3},
      {"extraction_p95_ms", lat.p95 * 1e3},
      {"extraction_p99_ms", lat.p99 * 1e3},
      {"cache_entries", c.entries},
      {"cache_bytes_used", c.disk_bytes_used},
      {"cache_bytes_limit", c.disk_bytes_limit},
      {"cache_writes", c.writes},
      {"cache_dropped", c.dropped},
      {"cache_errors", c.errors},
      {"peak_rss_bytes", peak_rss_bytes()},
      {"workers", options.workers},
      {"isolation", options.isolation},
      {"shard", std::to_string(settings.shard) + "/" + std::to_string(settings.shards)},
  };
  if (shared) {
    summary["shared"] = {{"root", shared->options().root},  {"hits", shared_stats.hits},
                         {"misses", shared_stats.misses},   {"written", shared_stats.written},
                         {"dropped", shared_stats.dropped}, {"queued", shared_stats.queued},
                         {"errors", shared_stats.errors},   {"up", shared_stats.up}};
  }
  nlohmann::json listed = nlohmann::json::array();
  for (const auto& [rel, why] : counters.errors) listed.push_back({{"path", rel}, {"error", why}});
  summary["first_errors"] = listed;

  if (settings.json) {
    std::cout << summary.dump(1) << "\n";
  } else {
    std::printf(
        "metafs-index: %s%llu files (%llu data: %llu DICOM, %llu FITS, %llu HDF5, %llu netCDF) "
        "in %.1f s, %.0f files/s\n",
        g_interrupted ? "INTERRUPTED after " : "",
        static_cast<unsigned long long>(counters.done.load()),
        static_cast<unsigned long long>(counters.data.load()),
        static_cast<unsigned long long>(summary["dicom"].get<std::uint64_t>()),
        static_cast<unsigned long long>(summary["fits"].get<std::uint64_t>()),
        static_cast<unsigned long long>(summary["hdf5"].get<std::uint64_t>()),
        static_cast<unsigned long long>(summary["netcdf"].get<std::uint64_t>()), elapsed,
        summary["files_per_second"].get<double>());
    std::printf("  extracted %llu, already cached %llu, errors %llu (cached as error entries)\n",
                static_cast<unsigned long long>(stats.extractions.load()),
                static_cast<unsigned long long>(summary["already_cached"].get<std::uint64_t>()),
                static_cast<unsigned long long>(counters.failed.load()));
    std::printf("  cache %s: %llu entries, %.1f MiB used of %.1f MiB; %llu not stored\n",
                options.cache_dir.c_str(), static_cast<unsigned long long>(c.entries),
                static_cast<double>(c.disk_bytes_used) / (1 << 20),
                static_cast<double>(c.disk_bytes_limit) / (1 << 20),
                static_cast<unsigned long long>(c.dropped));
    for (const auto& [rel, why] : counters.errors) {
      std::printf("  error: %s: %s\n", rel.c_str(), why.c_str());
    }
    if (counters.failed > counters.errors.size()) {
      std::printf("  ... and %llu more errors\n",
                  static_cast<unsigned long long>(counters.failed - counters.errors.size()));
    }
  }
  if (shared && !settings.json) {
    std::printf("  shared cache '%s': %llu found there, %llu rows written, %llu not written\n",
                shared->options().root.c_str(), static_cast<unsigned long long>(shared_stats.hits),
                static_cast<unsigned long long>(shared_stats.written),
                static_cast<unsigned long long>(shared_stats.dropped + shared_stats.queued));
  }
  if (c.dropped > 0 || c.errors > 0) {
    std::fprintf(stderr,
                 "metafs-index: warning: %llu records not stored, %llu cache errors: a mount "
                 "will extract those files again (is --cache-size large enough?)\n",
                 static_cast<unsigned long long>(c.dropped),
                 static_cast<unsigned long long>(c.errors));
  }
  return g_interrupted ? 130 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  IndexSettings settings;
  int exit_code = 0;
  if (!parse_command_line(argc, argv, &settings, &exit_code)) return exit_code;
  struct sigaction action {};
  action.sa_handler = on_signal;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  try {
    return run(settings);
  } catch (const std::exception& e) {
    std::cerr << "metafs-index: " << e.what() << "\n";
    return 1;
  }
}
