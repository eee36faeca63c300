#include "control_files.hpp"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string_view>
#include <utility>

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
    case ControlFile::kOpenMetrics:
      return "openmetrics";
  }
  return "";
}

bool ControlFiles::from_name(const std::string& text, ControlFile* file) {
  for (ControlFile f : kControlFiles) {
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
      return metrics(false);
    case ControlFile::kOpenMetrics:
      return metrics(true);
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
    // quoted() appends: `"\"" + string` makes GCC 12 warn of an overlap at -O3 (-Wrestrict,
    // a false positive).
    auto quoted = [](std::string_view text) {
      std::string json = "\"";
      json.append(text).push_back('"');
      return json;
    };
    for (const Extra::Text& t : extra.texts) add(t.name.c_str(), quoted(t.value));
    if (extra.pressure) {
      add("memory_pressure", quoted(cache::pressure_level_name(*extra.pressure)));
      add("memory_pressure_trigger", quoted(cache::pressure_trigger_name(extra.pressure_trigger)));
    }
  }
  out += "  \"extraction_seconds\": {\"count\": " + std::to_string(latency.count) +
         ", \"sum\": " + number(latency.sum_seconds) + ", \"p50\": " + number(latency.p50) +
         ", \"p95\": " + number(latency.p95) + ", \"p99\": " + number(latency.p99) +
         ", \"max\": " + number(latency.max) + "}\n}\n";
  return out;
}

namespace {

// One metric family of /.metafs/metrics, written in either text format.
struct Family {
  std::string name;  // a counter's without "_total"
  std::string help;
  const char* type;                                          // "counter", "gauge", "histogram"
  std::vector<std::pair<std::string, std::string>> samples;  // name suffix + labels, value
};

// The unit a name ends in (Prometheus: base units, last), for OpenMetrics' # UNIT.
const char* unit_of(const std::string& name) {
  for (const char* unit : {"bytes", "seconds"}) {
    std::string suffix = std::string("_") + unit;
    if (name.size() > suffix.size() && name.ends_with(suffix)) return unit;
  }
  return nullptr;
}

// Prometheus text 0.0.4 (what node_exporter's textfile collector and Prometheus read): a
// counter's family is named with its "_total". OpenMetrics 1.0 names the family without
// it, adds # UNIT and ends with # EOF. No one text satisfies both parsers' counters.
std::string write_families(const std::vector<Family>& families, bool open_metrics) {
  std::string out;
  for (const Family& f : families) {
    bool counter = std::string_view(f.type) == "counter";
    std::string family = f.name + (counter && !open_metrics ? "_total" : "");
    out += "# HELP " + family + " " + f.help + "\n";
    out += "# TYPE " + family + " " + f.type + "\n";
    if (const char* unit = unit_of(family); unit && open_metrics) {
      out += "# UNIT " + family + " " + unit + "\n";
    }
    for (const auto& [suffix, value] : f.samples) {
      out += f.name + (counter ? "_total" : "") + suffix + " " + value + "\n";
    }
  }
  if (open_metrics) out += "# EOF\n";
  return out;
}

// Prometheus puts the unit last: "cache_bytes_used" (stats.json) is metafs_cache_used_bytes.
std::string metric_name(const std::string& stats_name) {
  std::string name = stats_name;
  if (auto at = name.find("_bytes_"); at != std::string::npos) {
    name.erase(at, 6);
    name += "_bytes";
  }
  return "metafs_" + name;
}

// Every trigger the pressure monitor names (cache/pressure_level.hpp), in enum order.
constexpr cache::PressureTrigger kPressureTriggers[] = {
    cache::PressureTrigger::kNone, cache::PressureTrigger::kPsi,
    cache::PressureTrigger::kMemoryHigh, cache::PressureTrigger::kMemAvailable};

}  // namespace

std::string ControlFiles::metrics(bool open_metrics) const {
  auto latency = stats_.extraction_latency.snapshot();
  std::vector<Family> families;
  auto add = [&](std::string name, std::string help, const char* type, std::string value) {
    families.push_back({std::move(name), std::move(help), type, {{"", std::move(value)}}});
  };
  auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    add(std::string("metafs_") + name, help, "counter", std::to_string(value));
  };
  families.push_back({"metafs_build_info",
                      "The metafs version (always 1).",
                      "gauge",
                      {{std::string("{version=\"") + kVersion + "\"}", "1"}}});
  add("metafs_uptime_seconds", "Seconds since the daemon started.", "gauge",
      number(std::chrono::duration<double>(std::chrono::steady_clock::now() - stats_.started)
                 .count()));
  counter("lookups", "FUSE lookups answered.", stats_.lookups.load());
  counter("getattrs", "FUSE getattrs answered.", stats_.getattrs.load());
  counter("reads", "FUSE reads answered.", stats_.reads.load());
  counter("readdirs", "Directories opened for listing.", stats_.readdirs.load());
  counter("readdir_replies", "Listing requests answered.", stats_.readdir_replies.load());
  counter("detections", "Files whose format was detected.", stats_.detections.load());
  counter("extractions", "Metadata extractions run.", stats_.extractions.load());
  counter("extraction_errors", "Extractions that ended with an error.", stats_.errors.load());
  counter("view_hits", "Views served from memory without asking the cache.",
          stats_.view_hits.load());
  counter("prefetched", "Views made ready ahead of a request (--prefetch).",
          stats_.prefetched.load());
  counter("retried",
          "Extraction results not kept as a file's verdict (cannot open, killed from outside, "
          "first crash): tried again on a later lookup.",
          stats_.retried.load());
  if (extra_) {
    Extra extra = extra_();
    for (const Metric& m : extra.metrics) {
      add(metric_name(m.name), m.help, m.counter ? "counter" : "gauge", std::to_string(m.value));
    }
    for (const Extra::Text& t : extra.texts) {
      families.push_back({"metafs_" + t.name + "_info",
                          t.help,
                          "gauge",
                          {{"{" + t.label + "=\"" + t.value + "\"}", "1"}}});
    }
    if (extra.pressure) {
      add("metafs_memory_pressure_level",
          "Memory pressure: 0 normal, 1 elevated, 2 high, 3 critical.", "gauge",
          std::to_string(static_cast<int>(*extra.pressure)));
      // Every trigger, 1 for the current one: a series does not vanish when it changes.
      Family trigger{"metafs_memory_pressure_trigger",
                     "The source that set the pressure level (1), the others 0.",
                     "gauge",
                     {}};
      for (cache::PressureTrigger each : kPressureTriggers) {
        trigger.samples.push_back(
            {"{trigger=\"" + std::string(cache::pressure_trigger_name(each)) + "\"}",
             each == extra.pressure_trigger ? "1" : "0"});
      }
      families.push_back(std::move(trigger));
    }
  }
  Family histogram{
      "metafs_extraction_seconds", "Time to extract one file's metadata.", "histogram", {}};
  for (std::size_t i = 0; i < LatencyRecorder::kBucketSeconds.size(); ++i) {
    histogram.samples.push_back(
        {"_bucket{le=\"" + number(LatencyRecorder::kBucketSeconds[i]) + "\"}",
         std::to_string(latency.cumulative[i])});
  }
  histogram.samples.push_back({"_bucket{le=\"+Inf\"}", std::to_string(latency.count)});
  histogram.samples.push_back({"_sum", number(latency.sum_seconds)});
  histogram.samples.push_back({"_count", std::to_string(latency.count)});
  families.push_back(std::move(histogram));
  Family recent{"metafs_extraction_recent_seconds",
                "Percentiles of the last few thousand extractions (quantile 1: the longest).",
                "gauge",
                {}};
  for (auto [quantile, value] : {std::pair{"0.5", latency.p50}, std::pair{"0.95", latency.p95},
                                 std::pair{"0.99", latency.p99}, std::pair{"1", latency.max}}) {
    recent.samples.push_back({std::string("{quantile=\"") + quantile + "\"}", number(value)});
  }
  families.push_back(std::move(recent));
  return write_families(families, open_metrics);
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
