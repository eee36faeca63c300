#pragma once

// metafs-index --instance NAME: what the unit metafs@NAME runs with, read from its
// configuration (/etc/metafs/NAME.conf, the unit's EnvironmentFile=).
#include <string>
#include <vector>

#include "options.hpp"

namespace metafs::tools {

// When argv has --instance NAME: *args becomes the command line as the unit would have it: its
// SOURCE, its OPTIONS (split at whitespace, as ExecStart= splits $OPTIONS), then argv's own
// (which win); NAME.conf is looked for in --config-dir, else
// $METAFS_CONFIG_DIR, else /etc/metafs. Returns why it cannot be (no such file, no SOURCE=), or
// "" (*args unchanged and *instance "" without --instance).
std::string instance_arguments(int argc, char** argv, std::vector<std::string>* args,
                               std::string* instance);

// The unit's $CACHE_DIRECTORY (CacheDirectory=metafs/%i): /var/cache/metafs/NAME.
std::string instance_cache_directory(const std::string& instance);

// options->source = SOURCE made canonical (it must be a directory), and options->cache_dir as
// the daemon would open it for that path: --cache-dir made absolute, else the instance unit's
// $CACHE_DIRECTORY (with --instance), else the daemon's default (cache::default_cache_dir) —
// so a tool finds the cache a mount of the same SOURCE uses. Returns why not, or "".
std::string resolve_source_and_cache(const std::string& source, const std::string& instance,
                                     fs::Options* options);

}  // namespace metafs::tools
