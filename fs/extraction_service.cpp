#include "extraction_service.hpp"

#include <unistd.h>

#include <chrono>
#include <cstring>

#include "detect.hpp"
#include "log.hpp"
#include "source_signature.hpp"

namespace metafs::fs {
namespace {

constexpr std::size_t kMaxDetections = 1 << 20;
// Bumped when detection rules change, so cached detection results are redone.
constexpr std::uint32_t kDetectionVersion = 1;

std::string_view base_name(std::string_view rel) {
  auto slash = rel.rfind('/');
  return slash == std::string_view::npos ? rel : rel.substr(slash + 1);
}

}  // namespace

std::string version_key(const std::string& rel, const struct stat& st) {
  std::string key = rel;
  key.push_back('\0');
  for (auto v : {static_cast<std::int64_t>(st.st_dev), static_cast<std::int64_t>(st.st_ino),
                 static_cast<std::int64_t>(st.st_size), st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                 st.st_ctim.tv_sec, st.st_ctim.tv_nsec}) {
    key.append(std::to_string(v));
    key.push_back(':');
  }
  return key;
}

ExtractionService::ExtractionService(const SourceTree& source, ServiceOptions options, Stats& stats,
                                     std::unique_ptr<ExtractionBackend> backend,
                                     cache::MetadataCache& cache)
    : source_(source),
      options_(options),
      stats_(stats),
      backend_(std::move(backend)),
      cache_(cache),
      slots_(static_cast<std::ptrdiff_t>(std::max(1u, std::min(options.concurrency, 1024u)))),
      views_(options.view_memory) {
  pressure_subscription_ = cache_.pressure_monitor().subscribe([this](cache::PressureLevel level) {
    views_.set_budget(cache::memory_budget_at(level, options_.view_memory));
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
  std::string key = version_key(rel, st);
  {
    std::lock_guard lock(detect_mutex_);
    auto it = detected_.find(key);
    if (it != detected_.end()) return it->second;
  }
  cache::CacheKey cache_key{rel, cache::SourceSignature::from_stat(st), kDetectionVersion};
  std::optional<extract::Format> format = cache_.get_format(cache_key);
  if (!format) {
    format = extract::Format::kNone;
    int fd = source_.open_file(rel);
    if (fd >= 0) {
      *format = extract::detect_format(fd, base_name(rel), static_cast<std::uint64_t>(st.st_size));
      ::close(fd);
      cache_.put_format(cache_key, *format);
    } else {
      log::fs()->debug("detect {}: cannot open: {}", rel, std::strerror(-fd));
    }
    ++stats_.detections;
  }
  std::lock_guard lock(detect_mutex_);
  if (detected_.size() >= kMaxDetections) detected_.clear();
  detected_.emplace(std::move(key), *format);
  return *format;
}

std::shared_ptr<const extract::Extraction> ExtractionService::extraction(const std::string& rel,
                                                                         const struct stat& st,
                                                                         extract::Format format) {
  cache::CacheKey key{rel, cache::SourceSignature::from_stat(st), schema_version(format)};
  if (auto cached = cache_.get(key)) return cached;

  slots_.acquire();
  auto start = std::chrono::steady_clock::now();
  std::shared_ptr<extract::Extraction> result;
  try {
    result =
        std::make_shared<extract::Extraction>(backend_->extract(source_.absolute(rel), format));
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
    log::fs()->warn("{}: {}", rel, result->error);
  }
  log::fs()->debug("extracted {} in {} us", rel,
                   std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  cache_.put(key, result);
  return result;
}

ExtractionService::ViewPtr ExtractionService::view(const std::string& rel, const struct stat& st,
                                                   extract::Format format) {
  std::string key = version_key(rel, st);
  if (auto hit = views_.get(key)) {
    ++stats_.view_hits;
    return *hit;
  }

  std::promise<ViewPtr> promise;
  std::shared_future<ViewPtr> future;
  bool leader = false;
  {
    std::lock_guard lock(flight_mutex_);
    auto it = in_flight_.find(key);
    if (it != in_flight_.end()) {
      future = it->second;
    } else {
      future = promise.get_future().share();
      in_flight_.emplace(key, future);
      leader = true;
    }
  }
  if (!leader) return future.get();

  try {
    auto view = std::make_shared<const DataView>(extraction(rel, st, format), st);
    views_.put(key, view, view->memory_bytes());
    promise.set_value(std::move(view));
  } catch (...) {
    promise.set_exception(std::current_exception());
  }
  {
    std::lock_guard lock(flight_mutex_);
    in_flight_.erase(key);
  }
  return future.get();
}

}  // namespace metafs::fs
