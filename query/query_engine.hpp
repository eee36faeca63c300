#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "expression.hpp"
#include "extraction.hpp"
#include "field_index.hpp"
#include "matcher.hpp"
#include "metadata_cache.hpp"
#include "source_signature.hpp"

namespace metafs::query {

// The cache's index options for `fields`: terms by index_terms, fingerprint by fields.
cache::CacheIndexOptions cache_index_options(const IndexFields& fields);

// One file a query found: its path below SOURCE and the LMDB key of the record that matched.
struct QueryFile {
  std::string path;
  std::string key;
};

// What answering a query took, for benchmarks and --verbose.
struct QueryStats {
  std::size_t index_terms = 0;  // index pairs read
  std::size_t decoded = 0;      // records decoded (fields not indexed, or cut terms)
  std::size_t scanned = 0;      // records read by a full scan (0 when the index answered)
  std::size_t candidates = 0;   // records found before `accept`
};

// Whether the version of `path` with `signature` is the file's current one and may be shown
// to the asker (the CLI checks with access(2) as the real user, the mount as the caller).
using AcceptFile =
    std::function<bool(const std::string& path, const cache::SourceSignature& signature)>;

// Answers queries from a MetadataCache: an expression whose field the index holds entirely
// (IndexFields::covers) is answered from the index; other expressions of the same group are
// then checked on the records the index found, and a group with no indexed expression is
// answered by decoding every record. Only what is committed is seen. Records of older
// versions of a file stay in the cache until evicted; `accept` keeps the current one.
class QueryEngine {
 public:
  // Reads the index's fields from the cache; without a complete index (or with `use_index`
  // false, for comparisons) every query scans.
  explicit QueryEngine(cache::MetadataCache& cache, bool use_index = true);

  const std::optional<IndexFields>& index_fields() const { return fields_; }

  // How many threads run() asks `accept` on (default 1: then in path order, one at a time).
  // More only for an `accept` that is thread-safe and uses no per-thread state (the mount's
  // caller credentials are per thread); on a cold tree the lookups' disk waits then overlap.
  void set_accept_threads(unsigned threads) { accept_threads_ = threads; }

  // The files (sorted by path, each once) whose current version satisfies `query`; `accept`
  // is asked once per candidate record, after the index and records were read.
  std::vector<QueryFile> run(const Query& query, const AcceptFile& accept,
                             QueryStats* stats = nullptr);

  // Decodes the records of `files` (as run() returned them) and calls visit for each.
  void decode(const std::vector<QueryFile>& files,
              const std::function<void(const QueryFile&, const extract::Extraction&)>& visit);

 private:
  struct Candidates;
  void from_index(const Expression& expression, const ValueTest& test, Candidates* out,
                  QueryStats* stats);

  cache::MetadataCache& cache_;
  std::optional<IndexFields> fields_;
  unsigned accept_threads_ = 1;
};

}  // namespace metafs::query
