#include "extraction/extraction_service.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "codec.hpp"
#include "detect.hpp"
#include "extraction/log.hpp"
#include "source_signature.hpp"

namespace metafs::extraction {
namespace {

// One remembered detection: its version key (path and stat numbers) and a hash-map node.
constexpr std::size_t kDetectionBytes = 192;
// Bumped when detection rules change, so cached detection results are redone.
constexpr std::uint32_t kDetectionVersion = 2;  // 2: big-endian bare DICOM
// A passing failure is shown this long before a lookup tries the file again.
constexpr auto kRetryAfter = std::chrono::seconds(1);
// Crash counts kept at most (each a version key): past it they start afresh.
constexpr std::size_t kMaxCrashCounts = 4096;

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

using Verdict = extract::Extraction::Verdict;

extract::Extraction passing_failure(extract::Format format, std::string why) {
  extract::Extraction out;
  out.format = format;
  out.error = std::move(why);
  out.verdict = Verdict::kTransient;
  return out;
}

}  // namespace

ExtractionService::ExtractionService(const SourceTree& source, ServiceOptions options,
                                     Counters& stats, std::unique_ptr<ExtractionBackend> backend,
                                     cache::MetadataCache& cache)
    : source_(source),
      options_(options),
      stats_(stats),
      backend_(std::move(backend)),
      cache_(cache),
      slots_(std::max(1u, std::min(options.concurrency, 1024u))),
      views_(options.view_memory),
      max_detections_(std::max<std::size_t>(1024, options.detection_memory / kDetectionBytes)) {
  pressure_subscription_ = cache_.pressure_monitor().subscribe([this](cache::PressureLevel level) {
    views_.set_budget(cache::memory_budget_at(level, options_.view_memory));
    // The views are the one memory tier of decoded trees: what they just let go goes back.
    if (level != cache::PressureLevel::kNormal) cache::give_memory_back();
  });
}

ExtractionService::~ExtractionService() {
  cache_.pressure_monitor().unsubscribe(pressure_subscription_);
}

std::uint32_t ExtractionService::schema_version(extract::Format detected) const {
  // An HDF5-signature file may turn out to be netCDF-4: both extractors' versions count.
  if (detected == extract::Format::kHdf5) {
    return backend_->schema_version(extract::Format::kHdf5) * 7919u +
           backend_->schema_version(extract::Format::kNetcdf);
  }
  return backend_->schema_version(detected);
}

extract::Format ExtractionService::detect(const std::string& rel, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return extract::Format::kNone;
  FileVersion file = FileVersion::of(rel, st);
  std::string key = file.key();
  {
    std::lock_guard lock(detect_mutex_);
    auto it = detected_.find(key);
    if (it != detected_.end()) return it->second;
  }
  cache::CacheKey cache_key{rel, file.signature, kDetectionVersion};
  std::optional<extract::Format> format = cache_.get_format(cache_key);
  if (!format) {
    extract::FileDescriptor fd = source_.open_file(rel);
    struct stat opened {};
    if (!fd.valid()) {
      log()->debug("detect {}: cannot open: {}", rel, std::strerror(-fd.release()));
      return extract::Format::kNone;  // not remembered: looked at again next time
    }
    if (::fstat(fd.get(), &opened) != 0 || !S_ISREG(opened.st_mode) || !same_version(st, opened)) {
      // Another file has the name since the lstat: its bytes say nothing of this version.
      log()->debug("detect {}: changed as it was opened", rel);
      return extract::Format::kNone;
    }
    format = extract::detect_format(fd.get(), split_relative(rel).name,
                                    static_cast<std::uint64_t>(st.st_size));
    cache_.put_format(cache_key, *format);
    ++stats_.detections;
  }
  std::lock_guard lock(detect_mutex_);
  // Past its memory share start afresh: the cache on disk still has every detection.
  if (detected_.size() >= max_detections_) detected_.clear();
  detected_.emplace(std::move(key), *format);
  return *format;
}

std::shared_ptr<const DataVersion> ExtractionService::version(const std::string& rel,
                                                              const struct stat& st,
                                                              extract::Format format) {
  std::string key = FileVersion::of(rel, st).key();
  std::lock_guard lock(versions_mutex_);
  auto& slot = versions_[key];
  unsigned attempt = 0;
  if (auto live = slot.lock()) {
    std::int64_t retry_after = live->retry_after_ns.load(std::memory_order_acquire);
    if (retry_after == 0 || steady_ns() < retry_after) return live;
    attempt = live->attempt + 1;
  }
  auto created = std::make_shared<DataVersion>();
  created->rel = rel;
  created->st = st;
  created->format = format;
  created->key = attempt == 0 ? key : key + "#" + std::to_string(attempt);
  created->attempt = attempt;
  slot = created;
  if (versions_.size() >= versions_sweep_at_) {
    std::erase_if(versions_, [](const auto& entry) { return entry.second.expired(); });
    // A quarter more than what is alive: the expired entries are memory --memory-limit does
    // not count (a key and a map node each, ~200 bytes; with twice, 8 MB at 10^6 files).
    versions_sweep_at_ = std::max<std::size_t>(1024, versions_.size() + versions_.size() / 4);
  }
  return created;
}

cache::CacheKey ExtractionService::cache_key(const DataVersion& version) const {
  return cache::CacheKey{version.rel, version.file().signature, schema_version(version.format)};
}

void ExtractionService::Slots::acquire() {
  std::unique_lock lock(mutex_);
  ++requests_waiting_;
  changed_.wait(lock, [&] { return free_ > 0; });
  --requests_waiting_;
  --free_;
  changed_.notify_all();  // background waiters re-check requests_waiting_
}

bool ExtractionService::Slots::acquire_background(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait(lock, stop, [&] { return free_ > 0 && requests_waiting_ == 0; })) {
    return false;
  }
  --free_;
  return true;
}

void ExtractionService::Slots::release() {
  {
    std::lock_guard lock(mutex_);
    ++free_;
  }
  changed_.notify_all();
}

extract::Extraction ExtractionService::extract_opened(const DataVersion& version) {
  extract::FileDescriptor descriptor = source_.open_file(version.rel);
  if (!descriptor.valid()) {
    return passing_failure(version.format,
                           std::string("cannot open: ") + std::strerror(-descriptor.release()));
  }
  int fd = descriptor.get();  // owned by `file` from here on
  extract::SourceFile file(std::move(descriptor), version.rel);
  struct stat opened {};
  if (::fstat(fd, &opened) != 0 || !S_ISREG(opened.st_mode) || !same_version(version.st, opened)) {
    return passing_failure(version.format, "the file changed as it was opened; look again");
  }
  extract::Extraction result = backend_->extract(file, version.format);
  if (result.verdict == Verdict::kCrashed && version.format == extract::Format::kHdf5) {
    result = hdf5_view_after_crash(file, std::move(result));
  }
  struct stat after {};
  if (::fstat(fd, &after) != 0 || !same_version(opened, after)) {
    // Written to while it was read: what was read is no version's verdict.
    result.verdict = Verdict::kTransient;
    if (result.error.empty()) result.error = "the file changed while it was read; look again";
  }
  return result;
}

// An HDF5-signature file whose extractor crashed or hung: if it was netCDF-C (the file is
// shown as netcdf), the HDF5 extractor may still read it — a group that links back to the
// root makes netCDF-C and ncdump loop forever — so ask for that view (README: a .nc file
// netCDF-C cannot read). Its verdict stays kCrashed, so, as any crash, it is kept only when
// the next try crashes the same way. Without a view, the failure keeps the format the name
// gives (the worker never said which extractor it ran).
extract::Extraction ExtractionService::hdf5_view_after_crash(const extract::SourceFile& file,
                                                             extract::Extraction crashed) {
  extract::Extraction view = backend_->extract_hdf5_view(file, crashed.error);
  if (view.verdict != Verdict::kTransient && view.verdict != Verdict::kCrashed &&
      (view.tree.size() > 1 || !view.header.empty())) {
    log()->info("{}: netCDF-C failed ({}), shown as HDF5", file.name(), crashed.error);
    view.verdict = Verdict::kCrashed;
    return view;
  }
  if (view.verdict == Verdict::kTransient) crashed.verdict = Verdict::kTransient;
  if (extract::has_netcdf_name(file.base_name())) crashed.format = extract::Format::kNetcdf;
  return crashed;
}

bool ExtractionService::is_verdict(const DataVersion& version, const extract::Extraction& result) {
  switch (result.verdict) {
    case Verdict::kFinal:
      return true;
    case Verdict::kTransient:
      return false;
    case Verdict::kCrashed: {
      std::lock_guard lock(crashes_mutex_);
      if (crashes_.size() >= kMaxCrashCounts) crashes_.clear();
      return ++crashes_[version.file().key()] >= 2;
    }
  }
  return false;
}

std::shared_ptr<const extract::Extraction> ExtractionService::extract(const DataVersion& version,
                                                                      bool slot_held) {
  if (!slot_held) slots_.acquire();
  auto start = std::chrono::steady_clock::now();
  std::shared_ptr<extract::Extraction> result;
  try {
    result = std::make_shared<extract::Extraction>(extract_opened(version));
  } catch (...) {
    slots_.release();
    throw;
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  slots_.release();
  stats_.extraction_latency.record(elapsed);
  ++stats_.extractions;
  if (result->failed()) {
    ++stats_.errors;
    log()->warn("{}: {}", version.rel, result->error);
  }
  log()->debug("extracted {} in {} us", version.rel,
               std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  if (is_verdict(version, *result)) {
    result->verdict = Verdict::kFinal;
    cache::CacheKey key = cache_key(version);
    cache_.put(key, result);
    if (shared_) share(version, key, result);
  } else {
    ++stats_.retried;
    log()->info("{}: not kept, tried again on the next lookup", version.rel);
  }
  return result;
}

std::shared_ptr<const extract::Extraction> ExtractionService::from_shared_tier(
    const DataVersion& version) {
  if (!shared_) return nullptr;
  cache::CacheKey key = cache_key(version);
  std::optional<std::string> bytes = shared_->get(key);
  if (!bytes) return nullptr;
  try {
    auto found = std::make_shared<const extract::Extraction>(extract::decode_extraction(*bytes));
    cache_.put(key, found);
    ++stats_.shared_hits;
    return found;
  } catch (const std::exception& e) {
    // The row's key matched, its bytes did not decode: extract as if it were not there.
    log()->warn("{}: the shared cache's row does not decode ({}); extracting", version.rel,
                e.what());
    return nullptr;
  }
}

void ExtractionService::share(const DataVersion& version, const cache::CacheKey& key,
                              std::shared_ptr<const extract::Extraction> extraction) {
  // Who may reach the file: SOURCE's root, each directory on the way, the file. A path element
  // that cannot be read leaves the row unshared rather than shared with a guess.
  shared_tier::PathPermissions permissions;
  std::string rel;
  std::string_view rest = version.rel;
  while (true) {
    struct stat st {};
    std::string acl;
    int rc = source_.xattr(rel, "system.posix_acl_access", &st, &acl);
    if (rc < 0 && rc != -ENODATA && rc != -EOPNOTSUPP) {
      log()->debug("{}: not shared: {} unreadable ({})", version.rel, rel, std::strerror(-rc));
      return;
    }
    permissions.push_back({st.st_uid, st.st_gid, st.st_mode, rc == 0 ? std::move(acl) : ""});
    if (rel == version.rel) break;
    std::size_t slash = rest.find('/');
    std::string_view name = rest.substr(0, slash);
    rel = join_relative(rel, std::string(name));
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  // The file itself must still be the version extracted (its permissions are of this inode).
  const struct stat& file = version.st;
  const shared_tier::PathElement& last = permissions.back();
  if (last.uid != file.st_uid || last.gid != file.st_gid || last.mode != file.st_mode) return;
  shared_->put({key, std::move(extraction), std::move(permissions)});
}

ExtractionService::ViewPtr ExtractionService::make_view(
    const DataVersion& version, std::shared_ptr<const extract::Extraction> extraction) {
  return std::make_shared<const DataView>(std::move(extraction), version.st,
                                          split_relative(version.rel).name);
}

ExtractionService::ViewPtr ExtractionService::remember(
    const DataVersion& version, std::shared_ptr<const extract::Extraction> extraction) {
  bool passing = extraction->verdict != Verdict::kFinal;
  ViewPtr view = make_view(version, std::move(extraction));
  if (passing) {
    version.final_seen.store(false, std::memory_order_release);  // its names are this view's
    version.keep_passing_view(view);
    version.retry_after_ns.store(
        steady_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(kRetryAfter).count(),
        std::memory_order_release);
    return view;
  }
  views_.put(version.key, view, view->memory_bytes());
  version.final_seen.store(true, std::memory_order_release);
  return view;
}

ExtractionService::ViewPtr ExtractionService::find_view(const DataVersion& version,
                                                        bool count_hit) {
  if (auto passing = version.passing_view()) return passing;
  if (auto hit = views_.get(version.key)) {
    if (count_hit) ++stats_.view_hits;
    version.final_seen.store(true, std::memory_order_release);  // the LRU keeps verdicts only
    return *hit;
  }
  if (auto cached = cache_.get(cache_key(version))) return remember(version, std::move(cached));
  return nullptr;
}

ExtractionService::ViewPtr ExtractionService::cached_view(const DataVersion& version) {
  return find_view(version, true);
}

ExtractionService::ViewPtr ExtractionService::view(const DataVersion& version) {
  if (ViewPtr hit = cached_view(version)) return hit;
  return lead_or_join(version, false, nullptr);
}

ExtractionService::ViewPtr ExtractionService::held_view(const DataVersion& version) {
  if (ViewPtr hit = cached_view(version)) return hit;
  // Evicted everywhere: extract again, but only if the file is still that version.
  struct stat now {};
  if (source_.lstat(version.rel, &now) < 0 || !same_version(version.st, now)) return nullptr;
  return view(version);
}

bool ExtractionService::prefetch(const DataVersion& version, std::stop_token stop) {
  if (version.passing_view() || views_.contains(version.key)) return true;
  const cache::CacheKey key = cache_key(version);
  if (cache_.contains(key)) {
    // On disk: decoded ahead only into the first half of the views' budget, evicting
    // nothing, so a reader going through a cached directory finds it decoded while a walk
    // over more views than memory holds does not push out, for views nobody asked for yet,
    // the views it is about to list.
    cache::MemoryLruStats held = views_.stats();
    if (held.bytes >= held.budget / 2) return true;
    auto cached = cache_.get(key);
    if (cached && cached->verdict == Verdict::kFinal) {
      ViewPtr view = make_view(version, std::move(cached));
      if (views_.put_within(version.key, view, view->memory_bytes(), held.budget / 2)) {
        version.final_seen.store(true, std::memory_order_release);
      }
    }
    return true;
  }
  {
    std::lock_guard lock(flight_mutex_);
    if (in_flight_.contains(version.key)) return true;  // a request is extracting it
  }
  if (!slots_.acquire_background(stop)) return false;
  bool led = false;
  lead_or_join(version, true, &led);
  if (led) ++stats_.prefetched;
  return true;
}

ExtractionService::ViewPtr ExtractionService::lead_or_join(const DataVersion& version,
                                                           bool slot_held, bool* extracted) {
  std::promise<ViewPtr> promise;
  std::shared_future<ViewPtr> future;
  bool leader = false;
  {
    std::lock_guard lock(flight_mutex_);
    auto it = in_flight_.find(version.key);
    if (it != in_flight_.end()) {
      future = it->second;
    } else {
      future = promise.get_future().share();
      in_flight_.emplace(version.key, future);
      leader = true;
    }
  }
  if (!leader) {
    if (slot_held) slots_.release();
    return future.get();
  }

  try {
    // A request that finished this version between our miss and our flight left it in
    // memory (it remembers the view before leaving the flight).
    std::optional<ViewPtr> recent;
    if (auto passing = version.passing_view()) {
      recent = passing;
    } else {
      recent = views_.get(version.key);
    }
    std::shared_ptr<const extract::Extraction> shared;
    if (!recent) shared = from_shared_tier(version);
    if ((recent || shared) && slot_held) slots_.release();
    if (extracted) *extracted = !recent && !shared;
    ViewPtr view = recent   ? *recent
                   : shared ? remember(version, std::move(shared))
                            : remember(version, extract(version, slot_held));
    promise.set_value(std::move(view));
  } catch (...) {
    promise.set_exception(std::current_exception());
  }
  {
    std::lock_guard lock(flight_mutex_);
    in_flight_.erase(version.key);
  }
  return future.get();
}

}  // namespace metafs::extraction
