#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "extraction/extraction_service.hpp"
#include "extraction/source_tree.hpp"

namespace metafs::extraction {

struct PrefetchOptions {
  unsigned window = 16;  // files after the one asked for; 0 turns prefetching off
  unsigned threads = 2;  // background threads (extractions still share the service's slots)
};

// Reads ahead of a reader going through a directory of data files. When the metadata of a data
// file is asked for, the next `window` regular files of its source directory (in name order,
// wrapping around) are queued; background threads detect them and have the service make their
// views ready, starting an extraction only while no request waits for a slot. A reader that
// asks for one file at a time (`cat */metadata.json`, `grep -r`, a script) so keeps every
// worker busy instead of one. A window that reaches past the directory's last file goes on
// into the first files of the directory that follows it in name order (its next sibling, or
// its parent's or grandparent's, entered down to the first directory with files, at most two
// levels up and down): a reader going through `*/*/metadata.json` in order finds the next
// directory's first files ready too instead of waiting for each (a sixth of a cold pass over
// 80 directories of 15 files). Only through directories every user may list and enter
// (r-x for others): the reader is not known here, and what is read ahead shows in the
// counters of stats.json, which everyone reads; a directory others may not list is never
// read ahead for a reader who entered its neighbour. Files queued but not reached yet are
// dropped when the queue outgrows four windows; a request never waits for the queue.
class Prefetcher {
 public:
  Prefetcher(const SourceTree& source, ExtractionService& service, PrefetchOptions options);
  ~Prefetcher();  // drops what is queued and waits for the extractions already running
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // A request asked for the metadata of data file `rel`. Returns at once.
  void accessed(const std::string& rel);

 private:
  // The regular files of one source directory, sorted by name, as listed at `taken`; the
  // names packed into one buffer (a 100 000-file directory takes about 3 MB).
  struct Listing {
    std::string dir;
    std::string packed;                   // every name, back to back
    std::vector<std::uint32_t> starts;    // names().size() + 1 offsets into packed
    std::vector<bool> queued;             // per name
    std::vector<std::string> subdirs;     // its directories, sorted (capped: kMaxSubdirs)
    std::optional<std::string> next_dir;  // next_directory(dir) once asked ("" for none)
    bool public_listing = false;          // others may list and enter it (r-x)
    std::size_t bytes = 0;                // about what it holds (kMaxListingBytes for all)
    std::chrono::steady_clock::time_point taken;

    std::size_t size() const { return queued.size(); }
    std::string_view name(std::size_t i) const {
      return std::string_view(packed).substr(starts[i], starts[i + 1] - starts[i]);
    }
    // The position of `name`, or size() when it is not listed.
    std::size_t find(std::string_view name) const;
  };

  void run(std::stop_token stop);
  // Queues the window of files after `rel` not queued since the listing was taken.
  void plan(const std::string& rel);
  // The listing of `dir`, taken anew when older than a few seconds; nullptr when it cannot be
  // listed or has too many entries to keep. May drop the least recent listing (plan_mutex_).
  Listing* listing(const std::string& dir);
  // The directory a reader in name order enters after `dir` (see the class comment), or "".
  std::string next_directory(const std::string& dir);
  // Queues up to `count` files of `dir` from its first, those not queued yet (plan_mutex_).
  void pick_first(const std::string& dir, std::size_t count, std::vector<std::string>* picked);
  void prefetch_one(const std::string& rel, std::stop_token stop);

  const SourceTree& source_;
  ExtractionService& service_;
  PrefetchOptions options_;

  std::mutex mutex_;  // accesses_, queue_, last_access_
  std::condition_variable_any wake_;
  std::deque<std::string> accesses_;
  std::deque<std::string> queue_;
  std::string last_access_;

  std::mutex plan_mutex_;                           // listings_
  std::vector<std::unique_ptr<Listing>> listings_;  // the most recent few directories

  std::vector<std::jthread> threads_;  // last: stopped and joined first
};

}  // namespace metafs::extraction
