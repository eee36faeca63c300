#include "cache_key.hpp"

#include <xxhash.h>

#include "varint.hpp"

namespace metafs::cache {

using extract::ByteReader;
using extract::put_bytes;
using extract::put_u64_be;
namespace {

constexpr std::size_t kMaxPathBytes = 64 * 1024;

}  // namespace

std::size_t hash_value(const CacheKey& key) {
  std::uint64_t h = XXH3_64bits(key.source_path.data(), key.source_path.size());
  h ^= hash_value(key.signature) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= key.schema_version * 0xff51afd7ed558ccdULL;
  return static_cast<std::size_t>(h);
}

std::string lmdb_key(const CacheKey& key, RecordKind kind) {
  std::string out;
  out.reserve(kLmdbKeySize);
  out.push_back(static_cast<char>(kind));
  XXH128_canonical_t path_hash;
  XXH128_canonicalFromHash(&path_hash,
                           XXH3_128bits(key.source_path.data(), key.source_path.size()));
  out.append(reinterpret_cast<const char*>(path_hash.digest), sizeof path_hash.digest);
  const SourceSignature& s = key.signature;
  put_u64_be(out, s.dev);
  put_u64_be(out, s.ino);
  put_u64_be(out, s.size);
  put_u64_be(out, static_cast<std::uint64_t>(s.mtime_ns));
  put_u64_be(out, static_cast<std::uint64_t>(s.ctime_ns));
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((key.schema_version >> shift) & 0xff));
  }
  return out;
}

std::string encode_record(const CacheKey& key, std::string_view payload) {
  std::string out;
  out.reserve(key.source_path.size() + payload.size() + 4);
  put_bytes(out, key.source_path);
  out.append(payload);
  return out;
}

std::optional<std::string_view> record_payload(std::string_view record, const CacheKey& key) {
  ByteReader reader(record);
  std::string_view path = reader.bytes(kMaxPathBytes, "record path");
  if (path != key.source_path) return std::nullopt;
  return reader.raw(reader.remaining(), "record payload");
}

RecordParts record_parts(std::string_view record) {
  ByteReader reader(record);
  RecordParts parts;
  parts.path = reader.bytes(kMaxPathBytes, "record path");
  parts.payload = reader.raw(reader.remaining(), "record payload");
  return parts;
}

bool parse_lmdb_key(std::string_view lmdb, RecordKind* kind, SourceSignature* signature) {
  if (lmdb.size() != kLmdbKeySize) return false;
  auto u64 = [&](std::size_t at) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v = v << 8 | static_cast<unsigned char>(lmdb[at + i]);
    return v;
  };
  *kind = static_cast<RecordKind>(lmdb[0]);
  signature->dev = u64(17);
  signature->ino = u64(25);
  signature->size = u64(33);
  signature->mtime_ns = static_cast<std::int64_t>(u64(41));
  signature->ctime_ns = static_cast<std::int64_t>(u64(49));
  return true;
}

}  // namespace metafs::cache
