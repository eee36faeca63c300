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
//   "MFSX" | version u8 | raw body size varint | xxh3-64 of the rest, 8 bytes BE |
//   zstd frame of the body
//
// The body holds the format, header, error, extra files and the tree's nodes in id order
// (the root implied), each node as type, kind, parent id, name and text or list items with
// their separator. Every count and length is capped and checked against the bytes that are
// left, so hostile input costs at most kMaxBodyBytes of memory.
inline constexpr std::uint8_t kCodecVersion = 2;  // 2: empty lists
inline constexpr std::size_t kMaxBodyBytes = 64 * 1024 * 1024;
inline constexpr std::size_t kMaxNodes = 4 * 1024 * 1024;
inline constexpr std::size_t kMaxTreeDepth = 512;
// MetaTree never makes a longer name, so no tree it built is refused for its names.
inline constexpr std::size_t kMaxNameBytes = kMaxTreeNameBytes;
inline constexpr std::size_t kMaxExtraFiles = 64;

// Throws std::length_error when the extraction does not fit the limits above (the caller
// then simply does not cache it) and std::logic_error when the tree breaks MetaTree's own
// invariants (a list whose text is not its items joined).
std::string encode_extraction(const Extraction& extraction);

// The inverse of encode_extraction: the tree is rebuilt through MetaTree's API, so its
// lookup index is complete and `decode(encode(x)).tree == x.tree`. Throws CodecError for
// anything but a well-formed encoding of this version: truncation, trailing bytes, bad
// magic/version/checksum, counts or lengths past the limits or the input, a parent that is
// not an earlier directory, duplicate or invalid names, a tree deeper than kMaxTreeDepth.
Extraction decode_extraction(std::string_view bytes);

// The zstd library's version (ZSTD_versionString()).
std::string zstd_library_version();

}  // namespace metafs::extract
