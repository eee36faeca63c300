#include "query_engine.hpp"

#include <algorithm>
#include <atomic>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "cache_key.hpp"
#include "codec.hpp"
#include "matcher.hpp"

namespace metafs::query {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> names;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = path.find('/', start);
    names.push_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return names;
}

// Whether the record `payload` satisfies every test; thread-safe.
bool matches_all(std::string_view payload, const std::vector<const ValueTest*>& tests) {
  try {
    extract::Extraction x = extract::decode_extraction(payload);
    return std::all_of(tests.begin(), tests.end(),
                       [&](const ValueTest* t) { return matches(x, *t); });
  } catch (const std::exception&) {
    return false;  // an undecodable record matches nothing
  }
}

}  // namespace

cache::CacheIndexOptions cache_index_options(const IndexFields& fields) {
  cache::CacheIndexOptions options;
  options.fingerprint = fields.fingerprint();
  options.terms = [fields](const extract::Extraction& x, std::vector<std::string>* terms) {
    index_terms(fields, x, terms);
  };
  return options;
}

// Keys an expression's index terms name, and among them those whose term was cut (the
// record decides).
struct QueryEngine::Candidates {
  std::unordered_set<std::string> keys;
  std::unordered_set<std::string> unsure;
};

QueryEngine::QueryEngine(cache::MetadataCache& cache, bool use_index) : cache_(cache) {
  if (use_index) fields_ = index_fields_of(cache.index_fingerprint());
}

void QueryEngine::from_index(const Expression& e, const ValueTest& test, Candidates* out,
                             QueryStats* stats) {
  auto add = [&](std::string_view term_text, std::string_view key) {
    ++stats->index_terms;
    Term term;
    if (!parse_term(term_text, &term)) return true;
    bool unsure = term.truncated && !term.directory && e.op != Op::kExists;
    if (!unsure) {
      if (term.directory ? !test.accepts_directory() : !test(term.value)) return true;
    }
    if (!path_matches(e.path, split_path(term.path))) return true;
    auto [it, inserted] = out->keys.emplace(key);
    if (unsure) out->unsure.insert(*it);
    return true;
  };
  if (!e.path.has_glob() && e.op == Op::kEq && !e.number) {
    std::string exact = e.path.text() + "\t" + e.value;
    if (exact.size() < kMaxTermBytes) {
      cache_.scan_index(exact, [&](std::string_view term, std::string_view key) {
        return term.size() != exact.size() || add(term, key);
      });
      return;
    }
  }
  std::string prefix = e.path.literal_prefix();
  const auto& segs = e.path.segments;
  if (prefix.empty() && segs.size() > 1 && segs[0] == "*" &&
      segs[1].find('*') == std::string::npos) {
    // "*/TELESCOP": one range per first name instead of the whole index. The terms of one
    // first name S are two ranges, "S\t..." and "S/..."; other first names sort between
    // them ("S#2", "S-OBS"), so each step seeks past the range it landed in.
    FieldPath rest;
    rest.segments.assign(segs.begin() + 1, segs.end());
    std::string tail = rest.literal_prefix();
    if (rest.has_glob()) tail.push_back('/');
    std::unordered_set<std::string> done;
    std::string start;
    for (;;) {
      std::string first;
      char after = 0;
      bool any = false;
      cache_.scan_index(
          "",
          [&](std::string_view term, std::string_view) {
            std::size_t end = term.find_first_of("/\t");
            if (end == std::string_view::npos) end = term.size();
            first = std::string(term.substr(0, end));
            after = end < term.size() ? term[end] : 0;
            any = true;
            return false;
          },
          start);
      if (!any) break;
      if (done.insert(first).second) cache_.scan_index(first + "/" + tail, add);
      start = first;
      start.push_back(after == '/' ? '0' : after == '\t' ? '\n' : '\x01');
    }
    return;
  }
  if (e.path.has_glob() && !prefix.empty()) prefix.push_back('/');
  cache_.scan_index(prefix, add);
}

std::vector<QueryFile> QueryEngine::run(const Query& query, const AcceptFile& accept,
                                        QueryStats* stats) {
  QueryStats local;
  if (!stats) stats = &local;
  // Candidates are gathered first and `accept` asked once per file afterwards, in path order
  // (neighbouring files share directories: fewer lookups, and on a cold tree the disk reads
  // go forward), outside the cache's read transaction.
  std::vector<QueryFile> candidates;
  auto consider = [&](std::string_view key, std::string_view path) {
    ++stats->candidates;
    candidates.push_back({std::string(path), std::string(key)});
  };
  auto satisfies = [&](std::string_view payload, const std::vector<const ValueTest*>& tests) {
    ++stats->decoded;
    return matches_all(payload, tests);
  };

  for (const std::vector<Expression>& group : query.any_of) {
    std::vector<ValueTest> tests;
    for (const Expression& e : group) tests.emplace_back(e);
    std::vector<const ValueTest*> indexed, unindexed, all;
    for (const ValueTest& t : tests) {
      all.push_back(&t);
      (fields_ && fields_->covers(t.expression().path) ? indexed : unindexed).push_back(&t);
    }
    if (indexed.empty()) {
      // Every record decoded, on every core: the views stay valid until at_end returns.
      struct Record {
        std::string_view key, path, payload;
      };
      std::vector<Record> records;
      cache_.scan_extractions(
          [&](std::string_view key, std::string_view path, std::string_view payload) {
            records.push_back({key, path, payload});
            return true;
          },
          [&] {
            std::vector<char> ok(records.size(), 0);
            std::atomic<std::size_t> next{0};
            auto work = [&] {
              for (std::size_t i; (i = next.fetch_add(64)) < records.size();) {
                for (std::size_t j = i; j < std::min(i + 64, records.size()); ++j) {
                  ok[j] = matches_all(records[j].payload, all) ? 1 : 0;
                }
              }
            };
            unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
            std::vector<std::thread> pool;
            for (unsigned t = 1; t < threads && records.size() > 256; ++t) pool.emplace_back(work);
            work();
            for (std::thread& t : pool) t.join();
            for (std::size_t j = 0; j < records.size(); ++j) {
              if (ok[j]) consider(records[j].key, records[j].path);
            }
          });
      stats->scanned += records.size();
      stats->decoded += records.size();
      continue;
    }
    Candidates cand;
    for (std::size_t i = 0; i < indexed.size(); ++i) {
      Candidates next;
      from_index(indexed[i]->expression(), *indexed[i], &next, stats);
      if (i == 0) {
        cand = std::move(next);
        continue;
      }
      Candidates both;
      for (const std::string& key : cand.keys) {
        if (!next.keys.count(key)) continue;
        both.keys.insert(key);
        if (cand.unsure.count(key) || next.unsure.count(key)) both.unsure.insert(key);
      }
      cand = std::move(both);
      if (cand.keys.empty()) break;
    }
    // In key order: the B-tree's pages are then read forward, each once.
    std::vector<std::string> keys(cand.keys.begin(), cand.keys.end());
    std::sort(keys.begin(), keys.end());
    cache_.read_records(
        keys, [&](std::string_view key, std::string_view path, std::string_view payload) {
          bool check = !unindexed.empty() || cand.unsure.count(std::string(key));
          if (!check || satisfies(payload, cand.unsure.count(std::string(key)) ? all : unindexed)) {
            consider(key, path);
          }
          return true;
        });
  }
  // One file per path (records of a file's older versions are other candidates).
  std::sort(candidates.begin(), candidates.end(), [](const QueryFile& a, const QueryFile& b) {
    return a.path != b.path ? a.path < b.path : a.key < b.key;
  });
  candidates.erase(std::unique(candidates.begin(), candidates.end(),
                               [](const QueryFile& a, const QueryFile& b) {
                                 return a.path == b.path && a.key == b.key;
                               }),
                   candidates.end());
  std::vector<char> ok(candidates.size(), 0);
  auto check = [&](std::size_t i) {
    cache::RecordKind kind;
    cache::SourceSignature signature;
    ok[i] = cache::parse_lmdb_key(candidates[i].key, &kind, &signature) &&
            accept(candidates[i].path, signature);
  };
  unsigned threads = std::max(1u, accept_threads_);
  if (threads == 1 || candidates.size() < 64) {
    for (std::size_t i = 0; i < candidates.size(); ++i) check(i);
  } else {
    // Contiguous runs of paths per claim, so that each thread still walks a directory's
    // files together; the waits (cold inodes) overlap.
    std::atomic<std::size_t> next{0};
    auto work = [&] {
      for (std::size_t i; (i = next.fetch_add(32)) < candidates.size();) {
        for (std::size_t j = i; j < std::min(i + 32, candidates.size()); ++j) check(j);
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (std::thread& t : pool) t.join();
  }
  std::vector<QueryFile> out;
  out.reserve(candidates.size());
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    // Two accepted versions of one path cannot both be current; keep the first.
    if (ok[i] && (out.empty() || out.back().path != candidates[i].path)) {
      out.push_back(std::move(candidates[i]));
    }
  }
  return out;
}

void QueryEngine::decode(
    const std::vector<QueryFile>& files,
    const std::function<void(const QueryFile&, const extract::Extraction&)>& visit) {
  std::unordered_map<std::string, const QueryFile*> by_key;
  std::vector<std::string> keys;
  for (const QueryFile& f : files) {
    by_key.emplace(f.key, &f);
    keys.push_back(f.key);
  }
  cache_.read_records(keys, [&](std::string_view key, std::string_view, std::string_view payload) {
    auto it = by_key.find(std::string(key));
    if (it == by_key.end()) return true;
    try {
      visit(*it->second, extract::decode_extraction(payload));
    } catch (const extract::CodecError&) {
      // dropped: the daemon deletes an undecodable record on its next read
    }
    return true;
  });
}

}  // namespace metafs::query
