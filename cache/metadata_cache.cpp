#include "metadata_cache.hpp"

#include <atomic>
#include <stdexcept>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "cache_log.hpp"
#include "codec.hpp"
#include "lmdb_store.hpp"

namespace metafs::cache {

using extract::CodecError;
using extract::decode_extraction;
using extract::encode_extraction;
namespace {

using extract::Extraction;
using extract::Format;

}  // namespace

void give_memory_back() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

std::uint64_t memory_budget_at(PressureLevel level, std::uint64_t limit) {
  switch (level) {
    case PressureLevel::kNormal:
      return limit;
    case PressureLevel::kElevated:
      return limit / 2;
    case PressureLevel::kHigh:
      return limit / 4;
    case PressureLevel::kCritical:
      return 0;
  }
  return limit;
}

struct MetadataCache::Impl {
  explicit Impl(CacheOptions o) : options(std::move(o)), monitor(options.pressure) {}

  CacheOptions options;
  std::unique_ptr<LmdbStore> store;  // null when disabled
  std::atomic<std::uint64_t> hits{0}, misses{0}, errors{0}, dropped{0};
  PressureMonitor monitor;

  bool disk() const { return store && store->enabled(); }

  std::optional<std::string_view> payload_of(const std::optional<std::string>& record,
                                             const CacheKey& key, const std::string& lmdb) {
    if (!record) return std::nullopt;
    try {
      return record_payload(*record, key);
    } catch (const CodecError& e) {
      bad_record(lmdb, e.what());
      return std::nullopt;
    }
  }

  void bad_record(const std::string& lmdb, const char* why) {
    ++errors;
    cache_log().warn("dropping an unreadable cache record: {}", why);
    store->erase(lmdb);
  }
};

MetadataCache::MetadataCache(CacheOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  if (impl_->options.enabled) {
    LmdbStoreOptions store;
    store.dir = impl_->options.dir;
    store.map_size = impl_->options.disk_limit;
    const CacheIndexOptions& index = impl_->options.index;
    if (index.terms) {
      store.index_fingerprint = index.fingerprint;
      store.terms_of = [terms = index.terms](std::string_view key, std::string_view value,
                                             std::vector<std::string>* out) {
        if (key.empty() || static_cast<RecordKind>(key[0]) != RecordKind::kExtraction) return;
        try {
          terms(decode_extraction(record_parts(value).payload), out);
        } catch (const std::exception&) {
          // An undecodable record has no terms; a read deletes it.
        }
      };
    }
    store.keep_index = index.keep;
    store.wait_for_room = impl_->options.wait_for_room;
    impl_->store = std::make_unique<LmdbStore>(std::move(store));
  } else {
    cache_log().info("persistent cache disabled; caching in memory only");
  }
  if (impl_->options.watch_pressure) impl_->monitor.start();
}

MetadataCache::~MetadataCache() {
  impl_->monitor.stop();
  impl_->store.reset();
}

std::shared_ptr<const Extraction> MetadataCache::get(const CacheKey& key) {
  Impl& d = *impl_;
  if (d.disk()) {
    std::string lmdb = lmdb_key(key, RecordKind::kExtraction);
    std::optional<std::string> record = d.store->get(lmdb);
    if (auto payload = d.payload_of(record, key, lmdb)) {
      try {
        auto x = std::make_shared<const Extraction>(decode_extraction(*payload));
        ++d.hits;
        return x;
      } catch (const CodecError& e) {
        d.bad_record(lmdb, e.what());
      }
    }
  }
  ++d.misses;
  return nullptr;
}

bool MetadataCache::contains(const CacheKey& key) {
  Impl& d = *impl_;
  return d.disk() && d.store->contains(lmdb_key(key, RecordKind::kExtraction));
}

// The encoding (zstd) and the index terms are made on the store's writer thread: the
// request that extracted answers from the tree it has without waiting for them. Until then
// the queue holds the extraction itself, so it counts the extraction's memory against the
// store's bound on queued bytes.
void MetadataCache::put(const CacheKey& key, std::shared_ptr<const Extraction> extraction) {
  Impl& d = *impl_;
  if (!extraction || !d.disk()) return;
  std::size_t held =
      extraction->tree.memory_bytes() + extraction->header.size() + extraction->error.size();
  for (const auto& [name, bytes] : extraction->extra_files) held += name.size() + bytes.size();
  // `d` outlives the store (~MetadataCache closes the store first), so the maker may use it.
  d.store->put_deferred(
      lmdb_key(key, RecordKind::kExtraction), held,
      [&d, key, extraction = std::move(extraction)](std::string* value,
                                                    std::vector<std::string>* terms) {
        try {
          *value = encode_record(key, encode_extraction(*extraction));
          if (terms && d.options.index.terms) d.options.index.terms(*extraction, terms);
          return true;
        } catch (const std::length_error& e) {
          ++d.dropped;
          cache_log().debug("not caching {} on disk: {}", key.source_path, e.what());
        } catch (const std::logic_error& e) {
          ++d.errors;
          cache_log().warn("not caching {} on disk: {}", key.source_path, e.what());
        }
        return false;
      });
}

std::optional<Format> MetadataCache::get_format(const CacheKey& key) {
  Impl& d = *impl_;
  if (d.disk()) {
    std::string lmdb = lmdb_key(key, RecordKind::kFormat);
    std::optional<std::string> record = d.store->get(lmdb);
    if (auto payload = d.payload_of(record, key, lmdb)) {
      if (payload->size() == 1 &&
          static_cast<std::uint8_t>((*payload)[0]) <= static_cast<std::uint8_t>(Format::kNetcdf)) {
        auto format = static_cast<Format>((*payload)[0]);
        ++d.hits;
        return format;
      }
      d.bad_record(lmdb, "bad format record");
    }
  }
  ++d.misses;
  return std::nullopt;
}

void MetadataCache::put_format(const CacheKey& key, Format format) {
  Impl& d = *impl_;
  if (!d.disk()) return;
  d.store->put(lmdb_key(key, RecordKind::kFormat),
               encode_record(key, std::string(1, static_cast<char>(format))));
}

CacheStats MetadataCache::stats() const {
  const Impl& d = *impl_;
  CacheStats s;
  s.hits = d.hits;
  s.misses = d.misses;
  s.pressure = d.monitor.level();
  s.pressure_trigger = d.monitor.trigger();
  s.errors = d.errors;
  s.dropped = d.dropped;
  if (d.store) {
    LmdbStoreStats disk = d.store->stats();
    s.disk_enabled = disk.enabled;
    s.evictions = disk.evictions;
    s.disk_bytes_used = disk.used_bytes;
    s.disk_file_bytes = disk.file_bytes;
    s.disk_bytes_limit = disk.enabled ? disk.map_size : 0;
    s.entries = disk.entries;
    s.writes = disk.writes;
    s.dropped += disk.dropped;
    s.errors += disk.errors;
  }
  return s;
}

void MetadataCache::flush() {
  if (impl_->store) impl_->store->flush();
}

PressureMonitor& MetadataCache::pressure_monitor() {
  return impl_->monitor;
}

std::string MetadataCache::index_fingerprint() const {
  return impl_->disk() ? impl_->store->index_fingerprint() : std::string();
}

bool MetadataCache::scan_index(
    std::string_view prefix,
    const std::function<bool(std::string_view term, std::string_view key)>& visit,
    std::string_view start) {
  return impl_->disk() && impl_->store->scan_index(prefix, visit, start);
}

namespace {

bool visit_record(std::string_view key, std::string_view value,
                  const MetadataCache::RecordVisitor& visit) {
  if (key.empty() || static_cast<RecordKind>(key[0]) != RecordKind::kExtraction) return true;
  RecordParts parts;
  try {
    parts = record_parts(value);
  } catch (const CodecError&) {
    return true;
  }
  return visit(key, parts.path, parts.payload);
}

}  // namespace

bool MetadataCache::scan_extractions(const RecordVisitor& visit,
                                     const std::function<void()>& at_end) {
  if (!impl_->disk()) return false;
  std::string prefix(1, static_cast<char>(RecordKind::kExtraction));
  return impl_->store->scan_entries(
      prefix,
      [&](std::string_view key, std::string_view value) { return visit_record(key, value, visit); },
      at_end);
}

std::optional<std::string> MetadataCache::stored_path(std::string_view path_hash) {
  if (!impl_->disk() || path_hash.size() != 16) return std::nullopt;
  std::string prefix(1, static_cast<char>(RecordKind::kExtraction));
  prefix.append(path_hash);
  std::optional<std::string> path;
  impl_->store->scan_entries(prefix, [&](std::string_view, std::string_view value) {
    try {
      path = std::string(record_parts(value).path);
    } catch (const std::exception&) {
      return true;  // a malformed record: try the next one
    }
    return false;
  });
  return path;
}

bool MetadataCache::read_records(const std::vector<std::string>& keys, const RecordVisitor& visit) {
  if (!impl_->disk()) return false;
  return impl_->store->read_many(keys, [&](std::string_view key, std::string_view value) {
    return visit_record(key, value, visit);
  });
}

}  // namespace metafs::cache
