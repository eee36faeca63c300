#include "extraction/prefetcher.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "extraction/dir_stream.hpp"
#include "extraction/log.hpp"

namespace metafs::extraction {
namespace {

// A listing is reused this long: a reader going through a directory lists it once every few
// seconds, not once per file.
constexpr auto kListingLifetime = std::chrono::seconds(5);
constexpr std::size_t kListingsKept = 8;
// Subdirectories kept per listing (for the next directory of a read-ahead); past this many, a
// read-ahead does not go on into the following directory.
constexpr std::size_t kMaxSubdirs = 65'536;
constexpr int kMaxLevels = 2;  // up and down, looking for the next directory
// A directory with more files is not read ahead (its listing would take more memory than the
// metadata it leads to): its files are extracted as they are asked for.
constexpr std::size_t kMaxListed = 200'000;
constexpr std::size_t kMaxPackedBytes = 16u << 20;
// All listings kept together: the names of two directories of the largest size read ahead.
constexpr std::size_t kMaxListingBytes = 2 * kMaxPackedBytes;
constexpr std::size_t kMaxAccessesQueued = 64;

}  // namespace

Prefetcher::Prefetcher(const SourceTree& source, ExtractionService& service,
                       PrefetchOptions options)
    : source_(source), service_(service), options_(options) {
  if (options_.window == 0) return;
  for (unsigned i = 0; i < std::max(1u, options_.threads); ++i) {
    threads_.emplace_back([this](std::stop_token stop) { run(stop); });
  }
}

Prefetcher::~Prefetcher() {
  for (auto& t : threads_) t.request_stop();
  wake_.notify_all();
  threads_.clear();  // joins
}

void Prefetcher::accessed(const std::string& rel) {
  if (threads_.empty()) return;
  {
    std::lock_guard lock(mutex_);
    if (rel == last_access_) return;  // the same file's entries, one after another
    last_access_ = rel;
    if (accesses_.size() >= kMaxAccessesQueued) accesses_.pop_front();
    accesses_.push_back(rel);
  }
  wake_.notify_one();
}

void Prefetcher::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::string access, job;
    {
      std::unique_lock lock(mutex_);
      if (!wake_.wait(lock, stop, [&] { return !accesses_.empty() || !queue_.empty(); })) return;
      if (!accesses_.empty()) {
        access = std::move(accesses_.front());
        accesses_.pop_front();
      } else {
        job = std::move(queue_.front());
        queue_.pop_front();
      }
    }
    try {
      if (!access.empty()) {
        plan(access);
      } else {
        prefetch_one(job, stop);
      }
    } catch (const std::exception& e) {
      // Prefetching is an optimisation: a failure here costs only the head start.
      log()->warn("prefetch {}: {}", access.empty() ? job : access, e.what());
    }
  }
}

std::size_t Prefetcher::Listing::find(std::string_view wanted) const {
  std::size_t lo = 0, hi = size();
  while (lo < hi) {
    std::size_t mid = lo + (hi - lo) / 2;
    if (name(mid) < wanted) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < size() && name(lo) == wanted ? lo : size();
}

void Prefetcher::plan(const std::string& rel) {
  auto parts = split_relative(rel);
  std::string dir(parts.dir);
  std::string_view name = parts.name;
  std::vector<std::string> picked;
  {
    std::lock_guard lock(plan_mutex_);
    Listing* l = listing(dir);
    if (l == nullptr) return;
    std::size_t n = l->size();
    std::size_t at = l->find(name);
    if (at == n) return;
    l->queued[at] = true;  // asked for: no need to read ahead of itself
    // Only the window itself: those of its files queued before are skipped, not replaced by
    // files further on. (Replacing them ran a reader's read-ahead `window` files further per
    // file read: in a directory of more than a window of files the queue overflowed and
    // dropped the files nearest to the reader, which then extracted them itself: 235 of
    // 1 160 files read ahead in one directory, against 1 073 of 1 180 in directories of 15.)
    for (std::size_t step = 1; step < n && step <= options_.window; ++step) {
      std::size_t i = (at + step) % n;
      if (l->queued[i]) continue;
      l->queued[i] = true;
      std::string_view next = l->name(i);
      picked.push_back(dir.empty() ? std::string(next) : dir + "/" + std::string(next));
    }
    std::size_t past_end = at + options_.window > n - 1 ? at + options_.window - (n - 1) : 0;
    if (past_end > 0) {
      // Found once per listing: every read of the directory's last window asks for it.
      std::string next_dir;
      if (l->next_dir) {
        next_dir = *l->next_dir;
      } else {
        next_dir = next_directory(dir);  // may replace listings, `l` among them
        if (Listing* again = listing(dir)) again->next_dir = next_dir;
      }
      if (!next_dir.empty()) pick_first(next_dir, past_end, &picked);  // `l` unused from here
    }
  }
  if (picked.empty()) return;
  {
    std::lock_guard lock(mutex_);
    for (auto& p : picked) queue_.push_back(std::move(p));
    std::size_t cap = std::max<std::size_t>(64, std::size_t{4} * options_.window);
    while (queue_.size() > cap) queue_.pop_front();
  }
  wake_.notify_all();
}

Prefetcher::Listing* Prefetcher::listing(const std::string& dir) {
  auto now = std::chrono::steady_clock::now();
  auto found = std::find_if(listings_.begin(), listings_.end(),
                            [&](const auto& l) { return l->dir == dir; });
  if (found != listings_.end() && now - (*found)->taken < kListingLifetime) {
    // Least recently used last: a parent asked for at every read stays.
    std::rotate(found, found + 1, listings_.end());
    return listings_.back().get();
  }
  if (found != listings_.end()) listings_.erase(found);

  extract::FileDescriptor fd = source_.open_dir(dir);
  if (!fd.valid()) return nullptr;
  struct stat st {};
  bool public_listing =
      ::fstat(fd.get(), &st) == 0 && (st.st_mode & (S_IROTH | S_IXOTH)) == (S_IROTH | S_IXOTH);
  DirStream stream(std::move(fd));
  if (!stream.ok()) return nullptr;
  DIR* d = stream.get();
  std::vector<std::string> names;
  std::size_t bytes = 0;
  bool too_many = false;
  std::vector<std::string> subdirs;
  while (struct dirent* e = ::readdir(d)) {
    if (dir.empty() && std::strcmp(e->d_name, ".metafs") == 0) continue;  // hidden by the mount
    if (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN) {
      bool dots = std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0;
      if (!dots && subdirs.size() <= kMaxSubdirs) subdirs.emplace_back(e->d_name);
    }
    if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN) continue;
    if (names.size() >= kMaxListed || bytes >= kMaxPackedBytes) {
      too_many = true;
      break;
    }
    names.emplace_back(e->d_name);
    bytes += names.back().size();
  }
  if (too_many) {
    log()->debug("prefetch: {} has over {} files, not read ahead", dir, names.size());
    names.clear();
  }
  std::sort(names.begin(), names.end());
  if (subdirs.size() > kMaxSubdirs) subdirs.clear();
  std::sort(subdirs.begin(), subdirs.end());
  auto l = std::make_unique<Listing>();
  l->dir = dir;
  l->subdirs = std::move(subdirs);
  l->public_listing = public_listing;
  l->taken = now;
  l->packed.reserve(bytes);
  l->starts.reserve(names.size() + 1);
  for (const auto& name : names) {
    l->starts.push_back(static_cast<std::uint32_t>(l->packed.size()));
    l->packed += name;
  }
  l->starts.push_back(static_cast<std::uint32_t>(l->packed.size()));
  l->queued.assign(names.size(), false);

  l->bytes = l->packed.size() + l->starts.size() * sizeof(std::uint32_t) + l->size() / 8;
  for (const auto& s : l->subdirs) l->bytes += sizeof(std::string) + s.size();
  std::size_t kept = l->bytes;
  for (const auto& other : listings_) kept += other->bytes;
  while (!listings_.empty() && (listings_.size() >= kListingsKept || kept > kMaxListingBytes)) {
    kept -= listings_.front()->bytes;
    listings_.erase(listings_.begin());  // least recently used
  }
  listings_.push_back(std::move(l));
  return listings_.back().get();
}

std::string Prefetcher::next_directory(const std::string& dir) {
  // Up: the first ancestor level (at most kMaxLevels) where the path has a next sibling.
  std::string at = dir;
  std::string next;
  int up = 0;
  for (; up < kMaxLevels && !at.empty() && next.empty(); ++up) {
    auto parts = split_relative(at);
    std::string parent(parts.dir);
    std::string name(parts.name);
    Listing* p = listing(parent);
    if (p == nullptr || !p->public_listing) return {};
    auto it = std::upper_bound(p->subdirs.begin(), p->subdirs.end(), name);
    if (it != p->subdirs.end()) next = parent.empty() ? *it : parent + "/" + *it;
    at = parent;
  }
  if (next.empty()) return {};
  // Down: as many levels as we went up, to the first directory with files of its own.
  for (int down = 1;; ++down) {
    Listing* l = listing(next);
    if (l == nullptr || !l->public_listing) return {};
    if (down >= up || l->size() > 0 || l->subdirs.empty()) break;
    next += "/" + l->subdirs.front();
  }
  return next;
}

void Prefetcher::pick_first(const std::string& dir, std::size_t count,
                            std::vector<std::string>* picked) {
  Listing* l = listing(dir);
  if (l == nullptr) return;
  for (std::size_t i = 0; i < l->size() && i < count; ++i) {
    if (l->queued[i]) continue;
    l->queued[i] = true;
    picked->push_back(dir + "/" + std::string(l->name(i)));
  }
}

void Prefetcher::prefetch_one(const std::string& rel, std::stop_token stop) {
  struct stat st {};
  if (source_.lstat(rel, &st) < 0 || !S_ISREG(st.st_mode)) return;
  extract::Format format = service_.detect(rel, st);
  if (format == extract::Format::kNone) return;
  auto version = service_.version(rel, st, format);
  service_.prefetch(*version, stop);
}

}  // namespace metafs::extraction
