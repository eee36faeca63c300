#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace metafs::extract::fits {

// A forward-only byte stream over a FITS file: the file itself, or the inflated bytes of a
// gzip-compressed file. Skipping never holds more than a small fixed buffer in memory, so a
// data unit of any size costs a seek (plain files) or a bounded streaming inflate (gzip).
class BlockSource {
 public:
  virtual ~BlockSource() = default;

  // Reads up to `n` bytes; fewer only at the end of the stream (or after a failure()).
  virtual std::size_t read(char* buffer, std::size_t n) = 0;
  // Skips up to `n` bytes; returns how many were skipped (fewer only at the end or a failure).
  virtual std::uint64_t skip(std::uint64_t n) = 0;
  // Offset of the next byte in the (inflated) stream.
  virtual std::uint64_t position() const = 0;
  // Non-empty when the stream ended because of damage (e.g. a corrupt gzip stream), not EOF.
  virtual const std::string& failure() const = 0;
  virtual bool gzipped() const = 0;
};

// A source reading the descriptor `fd` (borrowed: it must outlive the source; read with pread
// only), choosing gzip decoding by the magic bytes (never by the name). `max_inflated_bytes`
// bounds the work spent inflating a gzip file. Throws ExtractError when `fd` is not a regular
// file.
std::unique_ptr<BlockSource> open_block_source(int fd, std::uint64_t max_inflated_bytes);

}  // namespace metafs::extract::fits
