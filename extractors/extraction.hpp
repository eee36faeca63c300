#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "format.hpp"
#include "meta_tree.hpp"

namespace metafs::extract {

// Everything the mount shows for one scientific file.
struct Extraction {
  Format format = Format::kNone;
  MetaTree tree;       // fields/
  std::string header;  // header.txt: the header as the format's reference tool prints it
  // Further files of the data directory, e.g. {"dicom.json", ...}. Names must not clash
  // with the fixed ones (format, fields, metadata.txt, metadata.json, header.txt, error).
  std::vector<std::pair<std::string, std::string>> extra_files;
  // One line saying why extraction failed or stopped early; empty when complete. The tree
  // and header keep whatever was read before the failure.
  std::string error;

  // Whether the result is the file's own verdict, which may be kept for this version of the
  // file. Set by whoever ran the extractor; never encoded (what is cached is kFinal).
  enum class Verdict : std::uint8_t {
    kFinal,      // the file decided: complete, or damaged as `error` says
    kCrashed,    // the parser crashed or ran out of time: final when it happens again
    kTransient,  // a passing condition (cannot open, killed from outside, no worker): retried
  };
  Verdict verdict = Verdict::kFinal;

  bool failed() const { return !error.empty(); }
};

// What an extractor throws: a one-line, human-readable reason ("truncated header in HDU 2").
class ExtractError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace metafs::extract
