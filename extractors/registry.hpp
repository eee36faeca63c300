#pragma once

#include <array>
#include <filesystem>
#include <memory>

#include "extractor.hpp"

namespace metafs::extract {

// All extractors, by format. Never throws from extract(): every failure becomes
// Extraction::error.
class ExtractorRegistry {
 public:
  ExtractorRegistry();

  // Extracts `file`, which detection said is of format `detected`.
  Extraction extract(const SourceFile& file, Format detected) const;

  // Version of everything the registry produces for `format` (cache keys include it).
  std::uint32_t schema_version(Format format) const;

 private:
  const Extractor* find(Format format) const;

  std::array<std::unique_ptr<Extractor>, 5> by_format_;
};

}  // namespace metafs::extract
