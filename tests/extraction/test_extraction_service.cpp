// The extraction service without a mount: a fake backend counts and gates extractions, so the
// service's own rules are seen directly (single flight, requests before read-ahead, freshness,
// eviction).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "extraction/counters.hpp"
#include "extraction/extraction_backend.hpp"
#include "extraction/extraction_service.hpp"
#include "extraction/source_tree.hpp"
#include "metadata_cache.hpp"
#include "temp_dir.hpp"

namespace {

using metafs::extract::Extraction;
using metafs::extract::Format;
using metafs::extraction::Counters;
using metafs::extraction::DataVersion;
using metafs::extraction::DataView;
using metafs::extraction::ExtractionBackend;
using metafs::extraction::ExtractionService;
using metafs::extraction::ServiceOptions;
using metafs::extraction::SourceTree;

// Extracts nothing: answers "header of <rel>" once the gate is open, and records the order in
// which extractions began.
class FakeBackend final : public ExtractionBackend {
 public:
  explicit FakeBackend(bool open) : open_(open) {}

  Extraction extract(const metafs::extract::SourceFile& file, Format detected) override {
    std::unique_lock lock(mutex_);
    started_.push_back(file.name());
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
    Extraction out;
    out.format = detected;
    out.header = "header of " + file.name();
    return out;
  }
  std::uint32_t schema_version(Format) const override { return 1; }

  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Waits until `count` extractions have begun.
  void wait_started(std::size_t count) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return started_.size() >= count; });
  }
  std::vector<std::string> started() {
    std::lock_guard lock(mutex_);
    return started_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_;
  std::vector<std::string> started_;
};

class ExtractionServiceTest : public ::testing::Test {
 protected:
  // `disk`: a cache file under the temporary directory; `view_memory`: bytes of views kept.
  void start(bool gate_open, unsigned concurrency, bool disk = false,
             std::uint64_t view_memory = 1 << 20) {
    for (const char* name : {"a.fits", "b.fits", "c.fits"}) write(name, "SIMPLE");
    source_ = std::make_unique<SourceTree>(dir_.path() / "source");
    metafs::cache::CacheOptions cache_options;
    cache_options.dir = dir_.path() / "cache";
    cache_options.enabled = disk;
    cache_options.watch_pressure = false;
    cache_ = std::make_unique<metafs::cache::MetadataCache>(cache_options);
    auto backend = std::make_unique<FakeBackend>(gate_open);
    backend_ = backend.get();
    ServiceOptions options;
    options.concurrency = concurrency;
    options.view_memory = view_memory;
    service_ = std::make_unique<ExtractionService>(*source_, options, counters_, std::move(backend),
                                                   *cache_);
  }

  void write(const std::string& rel, const std::string& bytes) {
    std::filesystem::create_directories(dir_.path() / "source");
    std::ofstream(dir_.path() / "source" / rel, std::ios::binary | std::ios::trunc) << bytes;
  }

  std::shared_ptr<const DataVersion> version(const std::string& rel) {
    struct stat st {};
    EXPECT_EQ(source_->lstat(rel, &st), 0);
    return service_->version(rel, st, Format::kFits);
  }

  void wait_for_waiting_requests(unsigned count) {
    while (service_->requests_waiting() < count) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  metafs::test::TempDir dir_;
  Counters counters_;
  std::unique_ptr<SourceTree> source_;
  std::unique_ptr<metafs::cache::MetadataCache> cache_;
  FakeBackend* backend_ = nullptr;
  std::unique_ptr<ExtractionService> service_;
};

TEST_F(ExtractionServiceTest, ConcurrentRequestsForOneVersionShareOneExtraction) {
  start(false, 4);
  auto a = version("a.fits");
  std::vector<std::shared_ptr<const DataView>> views(8);
  std::vector<std::jthread> readers;
  for (auto& view : views) readers.emplace_back([&] { view = service_->view(*a); });
  backend_->wait_started(1);
  backend_->open();
  readers.clear();
  EXPECT_EQ(backend_->started().size(), 1u);
  EXPECT_EQ(counters_.extractions.load(), 1u);
  for (const auto& view : views) {
    ASSERT_NE(view, nullptr);
    EXPECT_EQ(view, views.front());
    EXPECT_EQ(view->extraction().header, "header of a.fits");
  }
}

TEST_F(ExtractionServiceTest, ARequestGoesBeforeReadAhead) {
  start(false, 1);
  auto a = version("a.fits");
  auto b = version("b.fits");
  auto c = version("c.fits");
  std::jthread first([&] { service_->view(*a); });  // holds the one slot
  backend_->wait_started(1);
  std::jthread ahead([&](std::stop_token stop) { service_->prefetch(*b, stop); });
  std::jthread request([&] { service_->view(*c); });
  wait_for_waiting_requests(1);
  backend_->open();
  first.join();
  request.join();
  ahead.join();
  EXPECT_EQ(backend_->started(), (std::vector<std::string>{"a.fits", "c.fits", "b.fits"}));
  EXPECT_EQ(counters_.prefetched.load(), 1u);
}

TEST_F(ExtractionServiceTest, AHeldVersionIsStaleOnceItsFileChanged) {
  start(true, 1, false, 0);  // no view stays in memory: every use finds it evicted
  auto a = version("a.fits");
  ASSERT_NE(service_->view(*a), nullptr);
  // Evicted, the file unchanged: extracted again.
  auto again = service_->held_view(*a);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->extraction().header, "header of a.fits");
  EXPECT_EQ(backend_->started().size(), 2u);
  // Evicted, the file changed: that version is gone (ESTALE to the kernel), nothing extracted.
  write("a.fits", "SIMPLE, but longer");
  EXPECT_EQ(service_->held_view(*a), nullptr);
  EXPECT_EQ(backend_->started().size(), 2u);
}

TEST_F(ExtractionServiceTest, AnEvictedViewIsDecodedAgainFromTheCacheNotExtracted) {
  start(true, 1, true, 0);
  auto a = version("a.fits");
  auto first = service_->view(*a);
  ASSERT_NE(first, nullptr);
  auto second = service_->held_view(*a);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second, first);  // built anew from the cache's record
  EXPECT_EQ(second->extraction().header, first->extraction().header);
  EXPECT_EQ(backend_->started().size(), 1u);
  EXPECT_EQ(counters_.extractions.load(), 1u);
}

TEST_F(ExtractionServiceTest, PressureShrinksTheViewsTheOneMemoryTier) {
  start(true, 1, true);
  std::vector<std::shared_ptr<const DataView>> held;
  for (const char* name : {"a.fits", "b.fits", "c.fits"})
    held.push_back(service_->view(*version(name)));
  EXPECT_EQ(service_->view_stats().entries, 3u);
  cache_->pressure_monitor().set_level(metafs::cache::PressureLevel::kHigh);
  EXPECT_EQ(service_->view_stats().budget, (1u << 20) / 4);
  cache_->pressure_monitor().set_level(metafs::cache::PressureLevel::kCritical);
  EXPECT_EQ(service_->view_stats().bytes, 0u);
  EXPECT_EQ(service_->view_stats().entries, 0u);
  // Evicted from memory, still on disk: served again without extracting.
  cache_->flush();
  EXPECT_NE(service_->held_view(*version("b.fits")), nullptr);
  EXPECT_EQ(counters_.extractions.load(), 3u);
  cache_->pressure_monitor().set_level(metafs::cache::PressureLevel::kNormal);
  EXPECT_EQ(service_->view_stats().budget, 1u << 20);
}

}  // namespace
