#include "control_files.hpp"

#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "version.hpp"

namespace metafs::fs {
namespace {

std::string number(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  return buffer;
}

}  // namespace

ControlFiles::ControlFiles(const Stats& stats, ExtraSource extra)
    : stats_(stats), extra_(std::move(extra)) {}

const char* ControlFiles::name(ControlFile file) {
  switch (file) {
    case ControlFile::kVersion:
      return "version";
    case ControlFile::kStats:
      return "stats.json";
    case ControlFile::kMetrics:
      return "metrics";
  }
  return "";
}

bool ControlFiles::from_name(const std::string& text, ControlFile* file) {
  for (ControlFile f : {ControlFile::kVersion, ControlFile::kStats, ControlFile::kMetrics}) {
    if (text == name(f)) {
      *file = f;
      return true;
    }
  }
  return false;
}

std::string ControlFiles::render(ControlFile file) const {
  switch (file) {
    case ControlFile::kVersion:
      return std::string("metafs ") + kVersion + "\n";
    case ControlFile::kStats:
      return stats_json();
    case ControlFile::kMetrics:
      return metrics();
  }
  return "";
}

std::string ControlFiles::stats_json() const {
  auto latency = stats_.extraction_latency.snapshot();
  double uptime =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stats_.started).count();
  std::string out = "{\n";
  auto add = [&](const char* key, const std::string& value) {
    out += "  \"";
    out += key;
    out += "\": ";
    out += value;
    out += ",\n";
  };
  add("version", std::string("\"") + kVersion + "\"");
  add("uptime_seconds", number(uptime));
  add("lookups", std::to_string(stats_.lookups.load()));
  add("getattrs", std::to_string(stats_.getattrs.load()));
  add("reads", std::to_string(stats_.reads.load()));
  add("readdirs", std::to_string(stats_.readdirs.load()));
  add("readdir_replies", std::to_string(stats_.readdir_replies.load()));
  add("detections", std::to_string(stats_.detections.load()));
  add("extractions", std::to_string(stats_.extractions.load()));
  add("errors", std::to_string(stats_.errors.load()));
  add("view_hits", std::to_string(stats_.view_hits.load()));
  add("prefetched", std::to_string(stats_.prefetched.load()));
  add("retried", std::to_string(stats_.retried.load()));
  if (extra_) {
    Extra extra = extra_();
    for (const Metric& m : extra.metrics) add(m.name.c_str(), std::to_string(m.value));
    if (extra.pressure) {
      add("pressure_level", "\"" + std::string(cache::pressure_level_name(*extra.pressure)) + "\"");
    }
  }
  out += "  \"extraction_seconds\": {\"count\": " + std::to_string(latency.count) +
         ", \"sum\": " + number(latency.sum_seconds) + ", \"p50\": " + number(latency.p50) +
         ", \"p95\": " + number(latency.p95) + ", \"p99\": " + number(latency.p99) +
         ", \"max\": " + number(latency.max) + "}\n}\n";
  return out;
}

std::string ControlFiles::metrics() const {
  auto latency = stats_.extraction_latency.snapshot();
  std::string out;
  auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    out += std::string("# HELP metafs_") + name + " " + help + "\n";
    out += std::string("# TYPE metafs_") + name + " counter\n";
    out += std::string("metafs_") + name + " " + std::to_string(value) + "\n";
  };
  counter("lookups_total", "FUSE lookups answered.", stats_.lookups.load());
  counter("reads_total", "FUSE reads answered.", stats_.reads.load());
  counter("detections_total", "Files whose format was detected.", stats_.detections.load());
  counter("extractions_total", "Metadata extractions run.", stats_.extractions.load());
  counter("extraction_errors_total", "Extractions that ended with an error.", stats_.errors.load());
  counter("prefetched_total", "Views made ready ahead of a request (--prefetch).",
          stats_.prefetched.load());
  counter("retried_total",
          "Extraction results not kept as a file's verdict (cannot open, killed from outside, "
          "first crash): tried again on a later lookup.",
          stats_.retried.load());
  if (extra_) {
    Extra extra = extra_();
    for (const Metric& m : extra.metrics) {
      std::string name = "metafs_" + m.name + (m.counter ? "_total" : "");
      out += "# HELP " + name + " " + m.help + "\n";
      out += "# TYPE " + name + (m.counter ? " counter\n" : " gauge\n");
      out += name + " " + std::to_string(m.value) + "\n";
    }
    if (extra.pressure) {
      out +=
          "# HELP metafs_pressure_level Memory pressure: 0 normal, 1 elevated, 2 high, 3 "
          "critical.\n";
      out += "# TYPE metafs_pressure_level gauge\n";
      out += "metafs_pressure_level " + std::to_string(static_cast<int>(*extra.pressure)) + "\n";
    }
  }
  out += "# HELP metafs_extraction_seconds Time to extract one file's metadata.\n";
  out += "# TYPE metafs_extraction_seconds histogram\n";
  for (std::size_t i = 0; i < LatencyRecorder::kBucketSeconds.size(); ++i) {
    out += "metafs_extraction_seconds_bucket{le=\"" + number(LatencyRecorder::kBucketSeconds[i]) +
           "\"} " + std::to_string(latency.cumulative[i]) + "\n";
  }
  out += "metafs_extraction_seconds_bucket{le=\"+Inf\"} " + std::to_string(latency.count) + "\n";
  out += "metafs_extraction_seconds_sum " + number(latency.sum_seconds) + "\n";
  out += "metafs_extraction_seconds_count " + std::to_string(latency.count) + "\n";
  return out;
}

struct stat ControlFiles::refresh(ControlFile file) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->text = render(file);
  ::clock_gettime(CLOCK_REALTIME, &snapshot->time);
  std::lock_guard lock(mutex_);
  snapshots_[static_cast<int>(file)] = snapshot;
  return attributes_of(*snapshot);
}

struct stat ControlFiles::attributes(ControlFile file) {
  {
    std::lock_guard lock(mutex_);
    if (auto& snapshot = snapshots_[static_cast<int>(file)]) return attributes_of(*snapshot);
  }
  return refresh(file);
}

struct stat ControlFiles::attributes_of(const Snapshot& snapshot) {
  struct stat st {};
  st.st_mode = S_IFREG | 0444;
  st.st_nlink = 1;
  st.st_uid = ::getuid();
  st.st_gid = ::getgid();
  st.st_size = static_cast<off_t>(snapshot.text.size());
  st.st_blocks = (st.st_size + 511) / 512;
  st.st_blksize = 4096;
  st.st_mtim = st.st_ctim = st.st_atim = snapshot.time;
  return st;
}

std::shared_ptr<const std::string> ControlFiles::content(ControlFile file) {
  attributes(file);  // renders a first snapshot if there is none
  std::lock_guard lock(mutex_);
  const auto& snapshot = snapshots_[static_cast<int>(file)];
  return std::shared_ptr<const std::string>(snapshot, &snapshot->text);
}

}  // namespace metafs::fs
