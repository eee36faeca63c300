#include "extraction_service.hpp"

#include <unistd.h>

#include <chrono>
#include <cstring>

#include "detect.hpp"
#include "log.hpp"

namespace metafs::fs {
namespace {

constexpr std::size_t kMaxDetections = 1 << 20;

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
                                     std::unique_ptr<ExtractionBackend> backend)
    : source_(source),
      options_(options),
      stats_(stats),
      backend_(std::move(backend)),
      slots_(static_cast<std::ptrdiff_t>(std::max(1u, std::min(options.concurrency, 1024u)))) {}

extract::Format ExtractionService::detect(const std::string& rel, const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return extract::Format::kNone;
  std::string key = version_key(rel, st);
  {
    std::lock_guard lock(detect_mutex_);
    auto it = detected_.find(key);
    if (it != detected_.end()) return it->second;
  }
  extract::Format format = extract::Format::kNone;
  int fd = source_.open_file(rel);
  if (fd >= 0) {
    std::string_view name = rel;
    if (auto slash = name.rfind('/'); slash != std::string_view::npos)
      name = name.substr(slash + 1);
    format = extract::detect_format(fd, name, static_cast<std::uint64_t>(st.st_size));
    ::close(fd);
  } else {
    log::fs()->debug("detect {}: cannot open: {}", rel, std::strerror(-fd));
  }
  ++stats_.detections;
  std::lock_guard lock(detect_mutex_);
  if (detected_.size() >= kMaxDetections) detected_.clear();
  detected_.emplace(std::move(key), format);
  return format;
}

std::shared_ptr<const extract::Extraction> ExtractionService::run_extraction(
    const std::string& rel, extract::Format format) {
  slots_.acquire();
  auto start = std::chrono::steady_clock::now();
  auto extraction =
      std::make_shared<extract::Extraction>(backend_->extract(source_.absolute(rel), format));
  auto elapsed = std::chrono::steady_clock::now() - start;
  slots_.release();
  stats_.extraction_latency.record(elapsed);
  ++stats_.extractions;
  if (extraction->failed()) {
    ++stats_.errors;
    log::fs()->warn("{}: {}", rel, extraction->error);
  }
  log::fs()->debug("extracted {} in {} us", rel,
                   std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
  return extraction;
}

ExtractionService::ViewPtr ExtractionService::view(const std::string& rel, const struct stat& st,
                                                   extract::Format format) {
  std::string key = version_key(rel, st);
  if (ViewPtr hit = lru_get(key)) {
    ++stats_.view_hits;
    return hit;
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

  ViewPtr result;
  try {
    result = std::make_shared<const DataView>(run_extraction(rel, format), st);
    lru_put(key, result);
    promise.set_value(result);
  } catch (...) {
    promise.set_exception(std::current_exception());
  }
  {
    std::lock_guard lock(flight_mutex_);
    in_flight_.erase(key);
  }
  return future.get();
}

ExtractionService::ViewPtr ExtractionService::lru_get(const std::string& key) {
  std::lock_guard lock(lru_mutex_);
  auto it = lru_index_.find(key);
  if (it == lru_index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void ExtractionService::lru_put(const std::string& key, ViewPtr view) {
  std::size_t bytes = view->memory_bytes();
  std::lock_guard lock(lru_mutex_);
  if (lru_index_.count(key) != 0) return;
  lru_.emplace_front(key, std::move(view));
  lru_index_.emplace(key, lru_.begin());
  lru_bytes_ += bytes;
  while (lru_bytes_ > options_.memory_limit && lru_.size() > 1) {
    auto& [old_key, old_view] = lru_.back();
    lru_bytes_ -= std::min<std::uint64_t>(lru_bytes_, old_view->memory_bytes());
    lru_index_.erase(old_key);
    lru_.pop_back();
  }
}

std::uint64_t ExtractionService::memory_bytes() const {
  std::lock_guard lock(lru_mutex_);
  return lru_bytes_;
}

}  // namespace metafs::fs
