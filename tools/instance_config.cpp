#include "instance_config.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cache_dir.hpp"

namespace metafs::tools {
namespace {

// Where --instance looks for NAME.conf: --config-dir, else $METAFS_CONFIG_DIR, else the
// unit's EnvironmentFile= directory.
constexpr const char* kConfigDir = "/etc/metafs";
// Where systemd puts a system unit's CacheDirectory=metafs/%i.
constexpr const char* kInstanceCacheBase = "/var/cache/metafs";

// A systemd EnvironmentFile: KEY=VALUE lines, '#' and ';' comments, a value optionally in
// double or single quotes. Returns false with errno when the file cannot be read.
bool read_environment_file(const std::filesystem::path& path,
                           std::map<std::string, std::string>* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#' || line[first] == ';') continue;
    auto eq = line.find('=', first);
    if (eq == std::string::npos) continue;
    std::string key = line.substr(first, eq - first);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    std::string value = line.substr(eq + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() &&
           (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) {
      value.pop_back();
    }
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    (*out)[key] = value;
  }
  return true;
}

// The value of `--name VALUE` or `--name=VALUE` on the command line, or "".
std::string argument_value(int argc, char** argv, const std::string& name) {
  std::string value;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == name && i + 1 < argc) value = argv[++i];
    if (arg.rfind(name + "=", 0) == 0) value = arg.substr(name.size() + 1);
  }
  return value;
}

}  // namespace

std::string instance_arguments(int argc, char** argv, std::vector<std::string>* args,
                               std::string* instance) {
  *instance = argument_value(argc, argv, "--instance");
  if (instance->empty()) return {};
  if (instance->find('/') != std::string::npos) return "--instance " + *instance + ": not a name";
  std::string dir = argument_value(argc, argv, "--config-dir");
  if (dir.empty()) {
    const char* env = std::getenv("METAFS_CONFIG_DIR");
    dir = env != nullptr && *env != '\0' ? env : kConfigDir;
  }
  std::filesystem::path conf = std::filesystem::path(dir) / (*instance + ".conf");
  std::map<std::string, std::string> values;
  if (!read_environment_file(conf, &values)) {
    return "--instance " + *instance + ": cannot read " + conf.string() + ": " +
           std::strerror(errno);
  }
  if (values["SOURCE"].empty()) return conf.string() + ": no SOURCE=";
  // SOURCE first: a vector option such as -o at the end of OPTIONS would take it as a value.
  std::vector<std::string> out = {argv[0], values["SOURCE"]};
  // Split at whitespace, as systemd splits $OPTIONS in ExecStart=.
  std::istringstream words(values["OPTIONS"]);
  for (std::string word; words >> word;) out.push_back(word);
  for (int i = 1; i < argc; ++i) out.emplace_back(argv[i]);
  *args = std::move(out);
  return {};
}

std::string instance_cache_directory(const std::string& instance) {
  return std::string(kInstanceCacheBase) + "/" + instance;
}

std::string resolve_source_and_cache(const std::string& source, const std::string& instance,
                                     fs::Options* options) {
  std::error_code ec;
  options->source = std::filesystem::canonical(source, ec);
  if (ec || !std::filesystem::is_directory(options->source)) {
    return "source '" + source + "' is not a readable directory" + (ec ? ": " + ec.message() : "");
  }
  if (!options->cache_dir.empty()) {
    options->cache_dir = std::filesystem::absolute(options->cache_dir);
    return "";
  }
  // The unit's $CACHE_DIRECTORY, then the daemon's own rule beneath it.
  if (!instance.empty()) ::setenv("CACHE_DIRECTORY", instance_cache_directory(instance).c_str(), 1);
  // The daemon's default, from the canonical path: the same cache a later mount opens.
  options->cache_dir = cache::default_cache_dir(options->source);
  return "";
}

}  // namespace metafs::tools
