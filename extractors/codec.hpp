#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "entry_name.hpp"
#include "extraction.hpp"
#include "varint.hpp"

namespace metafs::extract {

// The binary form of an Extraction, used for cache values and for the replies of sandboxed
// extractor processes:
//
//   "MFSX" | version u8 | compression u8 | raw body size varint |
//   xxh3-64 of the rest, 8 bytes BE | the body, stored or as one zstd frame
//
// The body holds the format, header, error, extra files and the tree's nodes in id order
// (the root implied), each node as type, kind, parent id, name and text or list items with
// their separator. Every count and length is capped and checked against the bytes that are
// left, so hostile input costs at most kMaxBodyBytes of memory. Version 2 (no compression
// byte, always zstd) still decodes, so a cache written before version 3 stays valid.
inline constexpr std::uint8_t kCodecVersion = 3;  // 2: empty lists; 3: stored bodies
// How the body is kept: compressed in the cache (records stay small on disk), stored in a
// worker's reply (it crosses a local socket once; compressing and inflating it cost a third
// of a small file's extraction).
enum class BodyCompression : std::uint8_t { kStored = 0, kZstd = 1 };
inline constexpr std::size_t kMaxBodyBytes = 64 * 1024 * 1024;
inline constexpr std::size_t kMaxNodes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxTreeDepth = 512;
// MetaTree never makes a longer name, so no tree it built is refused for its names.
inline constexpr std::size_t kMaxNameBytes = kMaxTreeNameBytes;
inline constexpr std::size_t kMaxExtraFiles = 64;

// Throws std::length_error when the extraction does not fit the limits above (the caller
// then simply does not cache it) and std::logic_error when the tree breaks MetaTree's own
// invariants (a list whose text is not its items joined).
std::string encode_extraction(const Extraction& extraction,
                              BodyCompression compression = BodyCompression::kZstd);

// The inverse of encode_extraction: the tree is rebuilt through MetaTree's API, so its
// lookup index is complete and `decode(encode(x)).tree == x.tree`. Throws CodecError for
// anything but a well-formed encoding of version 2 or 3: truncation, trailing bytes, bad
// magic/version/compression/checksum, counts or lengths past the limits or the input, a
// parent that is not an earlier directory, duplicate or invalid names, a tree deeper than
// kMaxTreeDepth.
Extraction decode_extraction(std::string_view bytes);

// The zstd library's version (ZSTD_versionString()).
std::string zstd_library_version();

}  // namespace metafs::extract
