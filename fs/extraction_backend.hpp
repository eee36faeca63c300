#pragma once

#include <memory>

#include "extraction.hpp"
#include "format.hpp"
#include "options.hpp"
#include "source_file.hpp"

namespace metafs::fs {

// Where extractors run: in this process (tests, benchmarks, debugging) or in sandboxed worker
// processes. Thread-safe; never throws for a bad file: every failure, a crashed or timed-out
// worker included, comes back as Extraction::error, with Extraction::verdict saying whether
// the file itself caused it.
class ExtractionBackend {
 public:
  virtual ~ExtractionBackend() = default;
  // Starts what the backend runs in the background (worker processes). Called once, after
  // the daemon has detached; without it the backend starts on first use.
  virtual void start() {}
  // Reads `file` only through its descriptor.
  virtual extract::Extraction extract(const extract::SourceFile& file,
                                      extract::Format detected) = 0;
  // The daemon is stopping: extractions in flight end now (as passing failures, never
  // cached) and later ones fail at once. Thread-safe; may be called from any thread, once.
  virtual void cancel() {}
  // Version of what extract() produces for `format` (part of every cache key).
  virtual std::uint32_t schema_version(extract::Format format) const = 0;
};

// Runs the extractors in the calling thread.
std::unique_ptr<ExtractionBackend> make_in_process_backend();

// The backend `options.isolation` asks for.
std::unique_ptr<ExtractionBackend> make_extraction_backend(const Options& options);

}  // namespace metafs::fs
