#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace metafs::cache {

// Where the cache of `source_root` lives by default: the first directory of
// $CACHE_DIRECTORY (set by systemd for CacheDirectory=), else $XDG_CACHE_HOME/metafs (when
// absolute), else $HOME/.cache/metafs (the passwd entry's home when HOME is unset); inside
// it one subdirectory per source root, named "<last component>-<16 hex digits of an xxhash
// of the canonical path>", e.g. "archive-3f09c2d1a0b4e5f6". Creates nothing; never throws
// except std::bad_alloc.
std::filesystem::path default_cache_dir(const std::filesystem::path& source_root);

// A byte count: digits with an optional binary suffix K, M, G, T (case-insensitive, also
// KiB/MiB/GiB/TiB and KB/MB/GB/TB, all powers of 1024) or B. Throws std::invalid_argument
// naming the text for anything else: empty, a sign, a fraction, spaces, an unknown suffix,
// or a value past 2^64 - 1.
std::uint64_t parse_size(std::string_view text);

}  // namespace metafs::cache
