#pragma once

#include <sys/stat.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "node.hpp"
#include "stats.hpp"

namespace metafs::fs {

// /.metafs: what the daemon knows about itself. Each file is rendered afresh when its
// attributes are asked for; read() serves that snapshot, so the size the kernel saw and the
// bytes it reads always agree.
class ControlFiles {
 public:
  // `extra_json` adds members to stats.json (e.g. the cache's), as `"name":value,` text.
  using ExtraSource = std::function<std::string()>;
  ControlFiles(const Stats& stats, ExtraSource extra_json);

  static const char* name(ControlFile file);
  static bool from_name(const std::string& name, ControlFile* file);

  // Renders `file` anew and returns its attributes (mode 0444, owned by the daemon's user).
  struct stat refresh(ControlFile file);
  std::shared_ptr<const std::string> content(ControlFile file);

 private:
  std::string render(ControlFile file) const;
  std::string stats_json() const;
  std::string metrics() const;

  const Stats& stats_;
  ExtraSource extra_json_;
  std::mutex mutex_;
  std::shared_ptr<const std::string> snapshots_[3];
};

}  // namespace metafs::fs
