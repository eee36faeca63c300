#pragma once

#include <cstdint>

#include "extraction.hpp"
#include "source_file.hpp"

namespace metafs::extract {

// One format's metadata reader. Implementations read headers only: the cost of a file must
// not depend on the size of its data. They must be safe to call from several threads at
// once or serialise themselves (several format libraries are not thread-safe).
class Extractor {
 public:
  virtual ~Extractor() = default;

  virtual Format format() const = 0;

  // Bumped whenever what this extractor produces changes, so cached results are redone.
  virtual std::uint32_t schema_version() const = 0;

  // Fills out.tree, out.header and out.extra_files from `file`, reading only through its
  // descriptor. Throws ExtractError with a one-line reason when the file cannot be read
  // completely; whatever was added to `out` before the throw is kept and shown.
  virtual void extract(const SourceFile& file, Extraction& out) const = 0;
};

}  // namespace metafs::extract
