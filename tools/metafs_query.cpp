// metafs-query: finds files by their metadata in the cache the mount and metafs-index fill,
// from its query index where the fields are indexed, else by decoding the cached records.
// Prints the matching source paths, or a catalog (--columns) as CSV, TSV or JSON Lines.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cache_dir.hpp"
#include "codec.hpp"
#include "expression.hpp"
#include "instance_config.hpp"
#include "jsonb_filter.hpp"
#include "log.hpp"
#include "matcher.hpp"
#include "metadata_cache.hpp"
#include "option_declarations.hpp"
#include "options.hpp"
#include "query_engine.hpp"
#include "service_setup.hpp"
#include "session.hpp"
#include "shared_tier/pg_connection.hpp"
#include "shared_tier/shared_query.hpp"
#include "version.hpp"

extern char** environ;

namespace {

namespace fs = metafs::fs;
namespace cache = metafs::cache;
namespace query = metafs::query;
using Clock = std::chrono::steady_clock;

// "-o" on the command line, before CLI11 (which would take it for an option).
constexpr const char* kOrWord = "\x01or";
constexpr int kExitNoMatch = 1;

struct QuerySettings {
  fs::Options options;
  fs::SizeTexts sizes;
  std::vector<std::string> words;
  std::vector<std::string> columns;
  std::string format;
  bool nul = false;
  bool errors = false;
  bool extract = false;
  bool no_index = false;
  bool verbose = false;
};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

bool parse_command_line(int argc, char** argv, QuerySettings* settings, int* exit_code) {
  fs::Options& options = settings->options;
  options.log_level = "error";
  auto fail = [&](const std::string& message) {
    fs::log::report_error("metafs-query", message);
    *exit_code = fs::kExitUsage;
    return false;
  };
  std::vector<std::string> words(argv, argv + argc);
  for (std::string& w : words) {
    if (w == "-o") w = kOrWord;
  }
  std::vector<char*> replaced;
  for (std::string& w : words) replaced.push_back(w.data());
  replaced.push_back(nullptr);
  std::string instance;
  std::vector<std::string> instance_args;
  if (std::string error =
          metafs::tools::instance_arguments(argc, replaced.data(), &instance_args, &instance);
      !error.empty()) {
    return fail(error);
  }
  CLI::App app{
      "metafs-query: find files under SOURCE by their metadata, from the metafs cache (what\n"
      "the mount and metafs-index extracted). EXPR is FIELD OP VALUE with OP one of\n"
      "= != < <= > >= ~ (regular expression), or FIELD? (the field exists); FIELD is a path\n"
      "as metadata.txt prints it, * standing for one name and ** for any number. Numbers\n"
      "compare as numbers, other values as text. Several EXPRs must all hold; -o between\n"
      "them starts an alternative. Only files you may read in SOURCE are listed."};
  app.get_formatter()->column_width(30);
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  std::string source;
  std::vector<std::string> positional;
  app.add_option("SOURCE", source, "The directory the mount mirrors (or --instance)");
  app.add_option("EXPR", positional, "Expressions (and -o)");
  fs::declare_shared_options(app, options, settings->sizes);
  std::string instance_option, config_dir_option, columns;
  app.add_option("--instance", instance_option,
                 "Query the cache of the unit metafs@NAME (SOURCE and OPTIONS from its "
                 "configuration, as metafs-index --instance)")
      ->type_name("NAME");
  app.add_option("--config-dir", config_dir_option, "Where --instance finds NAME.conf")
      ->type_name("DIR");
  // What only a mount uses, accepted (and ignored) so that an instance's OPTIONS parse.
  std::vector<std::string> mount_only;
  bool mount_flag = false;
  for (const char* name : {"--prefetch", "--entry-timeout", "--attr-timeout", "--watch-timeout",
                           "--max-watches", "--log-file"}) {
    app.add_option(name, mount_only)
        ->group("")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }
  app.add_flag("-f,--foreground,-d,--debug,--no-cache", mount_flag)->group("");
  app.add_option("--columns", columns,
                 "Print a table of these fields (comma-separated paths), one row per file, "
                 "the path first; missing fields are empty")
      ->type_name("K,...");
  app.add_option("--format", settings->format,
                 "paths (default without --columns), csv (default with), tsv or jsonl")
      ->check(CLI::IsMember({"paths", "csv", "tsv", "jsonl"}));
  app.add_flag("-0,--null", settings->nul, "End paths with NUL instead of newline");
  app.add_flag("--errors", settings->errors,
               "List every file whose extraction failed, with the reason (no EXPR)");
  app.add_flag("--extract", settings->extract,
               "First extract what is not cached yet (runs metafs-index, with its progress)");
  app.add_flag("--no-index", settings->no_index, "Decode every record instead (benchmarks)");
  app.add_flag("-v,--verbose", settings->verbose, "How the query was answered, on stderr");
  app.set_version_flag("-V,--version", [] { return metafs::version_text("metafs-query"); });
  app.footer(
      "Examples:\n"
      "  metafs-query /data/archive Modality=MR 'StudyDate>=20240101'\n"
      "  metafs-query /data/archive '*/TELESCOP~^HST' -o '*/INSTRUME=ACS'\n"
      "  metafs-query /data/archive '**/units=K' --columns format,attributes/title --format csv\n"
      "  metafs-query /data/archive --errors\n"
      "  metafs-query /data/archive --shared-cache postgresql://db/metafs --shared-root archive "
      "Modality=MR\n"
      "Exit status: 0 when something matched, 1 when nothing did, 2 for a usage error.");
  try {
    std::vector<const char*> pointers;
    if (instance.empty()) {
      for (int i = 1; i < argc; ++i) pointers.push_back(replaced[static_cast<std::size_t>(i)]);
    } else {
      for (std::size_t i = 1; i < instance_args.size(); ++i) {
        pointers.push_back(instance_args[i].c_str());
      }
    }
    std::vector<std::string> reversed(pointers.rbegin(), pointers.rend());
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    *exit_code = fs::usage_exit(app, e, "metafs-query");
    return false;
  }
  if (source.empty()) return fail("SOURCE is required (or --instance NAME)");
  for (std::string& w : positional) settings->words.push_back(w == kOrWord ? "-o" : w);
  if (settings->errors && !settings->words.empty()) return fail("--errors takes no EXPR");
  if (!settings->errors && settings->words.empty()) return fail("no EXPR given");
  settings->columns = split_commas(columns);
  if (settings->format.empty()) settings->format = settings->columns.empty() ? "paths" : "csv";
  if (std::string error = fs::apply_sizes(settings->sizes, options); !error.empty()) {
    return fail(error);
  }
  if (std::string error = fs::validate_shared_options(options); !error.empty()) return fail(error);
  if (std::string error = metafs::tools::resolve_source_and_cache(source, instance, &options);
      !error.empty()) {
    return fail(error);
  }
  return true;
}

// metafs-index beside this program, with the same cache options; its summary goes to stderr
// so that stdout holds only the answer.
int run_extraction(const QuerySettings& settings) {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  std::filesystem::path indexer =
      ec ? std::filesystem::path("metafs-index") : self.parent_path() / "metafs-index";
  const fs::Options& o = settings.options;
  std::vector<std::string> args = {indexer.string(),    o.source.string(),
                                   "--cache-dir",       o.cache_dir.string(),
                                   "--cache-size",      settings.sizes.cache_size,
                                   "--index-fields",    o.index_fields,
                                   "--workers",         std::to_string(o.workers),
                                   "--isolation",       o.isolation,
                                   "--extract-timeout", std::to_string(o.extract_timeout),
                                   "--worker-memory",   settings.sizes.worker_memory};
  if (!o.worker_user.empty()) args.insert(args.end(), {"--worker-user", o.worker_user});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    std::cerr << "metafs-query: cannot run " << argv[0] << ": " << std::strerror(rc) << "\n";
    return 1;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

// The version a record was made from is the file's current one, and the real user (who ran
// this, even through a set-user-ID installation) may read it: the kernel decides, mode bits
// and ACLs, as for an open.
class SourceAccess {
 public:
  explicit SourceAccess(const std::filesystem::path& root)
      : fd_(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)) {}
  ~SourceAccess() {
    if (fd_ >= 0) ::close(fd_);
  }
  SourceAccess(const SourceAccess&) = delete;
  SourceAccess& operator=(const SourceAccess&) = delete;
  bool ok() const { return fd_ >= 0; }

  // `any_device`: the signature comes from another node (the shared tier keeps no st_dev).
  bool operator()(const std::string& rel, const cache::SourceSignature& signature,
                  bool any_device = false) const {
    struct stat st {};
    if (::fstatat(fd_, rel.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
      return false;
    }
    cache::SourceSignature here = cache::SourceSignature::from_stat(st);
    if (any_device) here.dev = signature.dev;
    if (!(here == signature)) return false;
    return ::faccessat(fd_, rel.c_str(), R_OK, 0) == 0;  // the real user: no AT_EACCESS
  }

 private:
  int fd_;
};

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos &&
      (text.empty() || (text.front() != ' ' && text.back() != ' '))) {
    return text;
  }
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

void print_row(const std::string& format, const std::vector<std::string>& cells,
               const std::vector<std::string>& names) {
  std::string line;
  if (format == "jsonl") {
    nlohmann::ordered_json row = nlohmann::ordered_json::object();
    for (std::size_t i = 0; i < cells.size(); ++i) row[names[i]] = cells[i];
    line = row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i) line.push_back(format == "csv" ? ',' : '\t');
      line += format == "csv" ? csv_field(cells[i]) : cells[i];
    }
  }
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stdout);
}

// The same answer from the shared tier: PostgreSQL narrows the rows through its GIN index
// (query::jsonb_prefilter) and its permission rule, then each row's tree is matched exactly as
// the local engine matches a record, and the file must be that version here and readable by
// the real user (SourceAccess without the device number, which differs between nodes).
int run_shared(const QuerySettings& settings, const query::Query& parsed,
               const std::vector<query::FieldPath>& columns) {
  const fs::Options& options = settings.options;
  std::string root = options.shared_root.empty() ? options.source.string() : options.shared_root;
  std::vector<gid_t> groups(static_cast<std::size_t>(std::max(0, ::getgroups(0, nullptr))));
  groups.resize(static_cast<std::size_t>(
      std::max(0, ::getgroups(static_cast<int>(groups.size()), groups.data()))));
  groups.push_back(::getgid());
  std::string condition = query::jsonb_prefilter(parsed);
  auto start = Clock::now();
  std::vector<metafs::shared_tier::CandidateRow> rows;
  try {
    rows = metafs::shared_tier::fetch_candidates(options.shared_cache, root, condition, ::getuid(),
                                                 groups, std::chrono::minutes(5));
  } catch (const metafs::shared_tier::PgError& e) {
    std::cerr << "metafs-query: the shared cache: " << e.what() << "\n";
    return 1;
  }
  SourceAccess access(options.source);
  if (!access.ok()) {
    std::cerr << "metafs-query: cannot open " << options.source.string() << "\n";
    return 1;
  }
  std::vector<query::ValueTest> tests;
  std::vector<std::size_t> group_ends;
  for (const auto& group : parsed.any_of) {
    for (const auto& e : group) tests.emplace_back(e);
    group_ends.push_back(tests.size());
  }
  auto full_path = [&](const std::string& rel) { return (options.source / rel).string(); };
  std::vector<std::string> names = {"path"};
  names.insert(names.end(), settings.columns.begin(), settings.columns.end());
  if (settings.format != "paths" && settings.format != "jsonl") {
    print_row(settings.format, names, names);
  }
  std::size_t matched = 0, decoded = 0;
  const std::string* last_path = nullptr;
  for (const auto& row : rows) {
    if (last_path && *last_path == row.path) continue;  // an older extractors' row of a path
    metafs::extract::Extraction x;
    try {
      x = metafs::extract::decode_extraction(row.tree);
    } catch (const std::exception&) {
      continue;
    }
    last_path = &row.path;
    ++decoded;
    bool any = false;
    std::size_t begin = 0;
    for (std::size_t end : group_ends) {
      bool all = true;
      for (std::size_t i = begin; i < end && all; ++i) all = query::matches(x, tests[i]);
      begin = end;
      if (all) {
        any = true;
        break;
      }
    }
    if (!any) continue;
    cache::SourceSignature signature;
    signature.ino = row.ino;
    signature.size = row.size;
    signature.mtime_ns = row.mtime_ns;
    signature.ctime_ns = row.ctime_ns;
    if (!access(row.path, signature, true)) continue;
    ++matched;
    if (settings.format == "paths") {
      std::string line = full_path(row.path);
      line.push_back(settings.nul ? '\0' : '\n');
      std::fwrite(line.data(), 1, line.size(), stdout);
      continue;
    }
    std::vector<std::string> cells = {full_path(row.path)};
    for (const query::FieldPath& c : columns) cells.push_back(query::first_value(x, c));
    print_row(settings.format, cells, names);
  }
  if (settings.verbose) {
    std::fprintf(stderr,
                 "metafs-query: %zu files in %.3f s (shared cache, root '%s': %zu rows through "
                 "the server's filter %s, %zu decoded)\n",
                 matched, std::chrono::duration<double>(Clock::now() - start).count(), root.c_str(),
                 rows.size(), condition.c_str(), decoded);
  }
  std::fflush(stdout);
  return matched == 0 ? kExitNoMatch : 0;
}

int run(QuerySettings& settings) {
  fs::Options& options = settings.options;
  fs::setup_logging(options, true);
  query::Query parsed;
  std::vector<query::FieldPath> columns;
  try {
    parsed =
        query::parse_query(settings.errors ? std::vector<std::string>{"error?"} : settings.words);
    for (const std::string& c : settings.columns) columns.push_back(query::parse_field_path(c));
    for (const auto& group : parsed.any_of) {
      for (const auto& e : group) query::ValueTest check(e);  // a bad regex is a usage error
    }
  } catch (const query::QueryError& e) {
    fs::log::report_error("metafs-query", e.what());
    return fs::kExitUsage;
  }
  if (settings.errors && settings.columns.empty()) {
    columns.push_back(query::parse_field_path(query::kErrorField));
    settings.columns.emplace_back(query::kErrorField);
    if (settings.format == "paths") settings.format = "tsv";
  }
  if (!options.shared_cache.empty()) return run_shared(settings, parsed, columns);
  if (settings.extract) {
    if (int rc = run_extraction(settings); rc != 0) {
      std::cerr << "metafs-query: metafs-index failed (exit " << rc << ")\n";
      return rc == 130 ? 130 : 1;
    }
  }
  // Never shrink the cache another process sized: its map size is the file's size at least.
  cache::CacheOptions cache_options = fs::cache_options_for(options);
  std::error_code ec;
  auto file_size = std::filesystem::file_size(options.cache_dir / "data.mdb", ec);
  if (!ec) cache_options.disk_limit = std::max<std::uint64_t>(cache_options.disk_limit, file_size);
  cache_options.enabled = true;
  cache_options.watch_pressure = false;
  cache_options.index = {};
  cache_options.index.keep = true;  // a reader: the index as the mount or metafs-index left it
  if (!std::filesystem::exists(options.cache_dir / "data.mdb")) {
    std::cerr << "metafs-query: no cache in " << options.cache_dir.string()
              << " (mount SOURCE or run metafs-index first, or pass --extract)\n";
    return 1;
  }
  cache::MetadataCache metadata_cache(cache_options);
  if (!metadata_cache.stats().disk_enabled) {
    std::cerr << "metafs-query: the cache in " << options.cache_dir.string()
              << " cannot be used (see the log above)\n";
    return 1;
  }
  SourceAccess access(options.source);
  if (!access.ok()) {
    std::cerr << "metafs-query: cannot open " << options.source.string() << "\n";
    return 1;
  }
  query::QueryEngine engine(metadata_cache, !settings.no_index);
  // SourceAccess is thread-safe; on a cold tree the lstat/access disk waits overlap.
  engine.set_accept_threads(8);
  auto start = Clock::now();
  query::QueryStats stats;
  std::vector<query::QueryFile> found = engine.run(
      parsed,
      [&](const std::string& rel, const cache::SourceSignature& signature) {
        return access(rel, signature);
      },
      &stats);
  if (settings.verbose) {
    std::fprintf(stderr,
                 "metafs-query: %zu files in %.3f s (index %s; %zu index terms read, %zu records "
                 "scanned, %zu decoded, %zu candidates)\n",
                 found.size(), std::chrono::duration<double>(Clock::now() - start).count(),
                 engine.index_fields() ? "used where it covers" : "absent", stats.index_terms,
                 stats.scanned, stats.decoded, stats.candidates);
  }
  auto full_path = [&](const std::string& rel) { return (options.source / rel).string(); };
  if (settings.format == "paths") {
    for (const query::QueryFile& f : found) {
      std::string line = full_path(f.path);
      line.push_back(settings.nul ? '\0' : '\n');
      std::fwrite(line.data(), 1, line.size(), stdout);
    }
  } else {
    std::vector<std::string> names = {"path"};
    names.insert(names.end(), settings.columns.begin(), settings.columns.end());
    if (settings.format != "jsonl") print_row(settings.format, names, names);
    engine.decode(found, [&](const query::QueryFile& f, const metafs::extract::Extraction& x) {
      std::vector<std::string> cells = {full_path(f.path)};
      for (const query::FieldPath& c : columns) cells.push_back(query::first_value(x, c));
      print_row(settings.format, cells, names);
    });
  }
  std::fflush(stdout);
  return found.empty() ? kExitNoMatch : 0;
}

}  // namespace

int main(int argc, char** argv) {
  QuerySettings settings;
  int exit_code = 0;
  if (!parse_command_line(argc, argv, &settings, &exit_code)) return exit_code;
  try {
    return run(settings);
  } catch (const std::exception& e) {
    std::cerr << "metafs-query: " << e.what() << "\n";
    return 1;
  }
}
