#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "source_signature.hpp"

namespace metafs::cache {

// One version of one source file as seen by one version of the extractors. A different
// signature or schema version is a different key, so stale entries are simply never asked
// for again and age out by LRU eviction.
struct CacheKey {
  std::string source_path;  // relative to the source root
  SourceSignature signature;
  std::uint32_t schema_version = 0;

  friend bool operator==(const CacheKey&, const CacheKey&) = default;
};

std::size_t hash_value(const CacheKey& key);

// What an LMDB record holds; part of the key, so one file has one record of each kind.
enum class RecordKind : std::uint8_t { kExtraction = 1, kFormat = 2 };

// The fixed-size LMDB key (well below LMDB's 511-byte limit): the kind, a 128-bit xxhash of
// the path, the signature and the schema version. Because the path is hashed, every record
// also stores the full path (see encode_record) and a read verifies it.
std::string lmdb_key(const CacheKey& key, RecordKind kind);
inline constexpr std::size_t kLmdbKeySize = 1 + 16 + 5 * 8 + 4;

// A record value: the full source path, then the payload.
std::string encode_record(const CacheKey& key, std::string_view payload);
// The payload of `record` when it belongs to key.source_path; std::nullopt for a hash
// collision. Throws CodecError for a malformed record.
std::optional<std::string_view> record_payload(std::string_view record, const CacheKey& key);

// A record's path and payload, whoever's key it is. Throws CodecError for a malformed record.
struct RecordParts {
  std::string_view path;
  std::string_view payload;
};
RecordParts record_parts(std::string_view record);

// The kind and the signature an LMDB key (lmdb_key) was made with; false for a key of
// another size.
bool parse_lmdb_key(std::string_view lmdb, RecordKind* kind, SourceSignature* signature);

}  // namespace metafs::cache

template <>
struct std::hash<metafs::cache::CacheKey> {
  std::size_t operator()(const metafs::cache::CacheKey& k) const {
    return metafs::cache::hash_value(k);
  }
};
