#include "fits/block_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "extraction.hpp"

namespace metafs::extract::fits {
namespace {

// pread() until `n` bytes or the end of the file; returns the count, or -1 with errno set.
ssize_t pread_full(int fd, char* buffer, std::size_t n, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < n) {
    ssize_t got = ::pread(fd, buffer + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return static_cast<ssize_t>(done);
}

class PlainFileSource final : public BlockSource {
 public:
  PlainFileSource(int fd, std::uint64_t size) : fd_(fd), size_(size) {}

  std::size_t read(char* buffer, std::size_t n) override {
    if (!failure_.empty()) return 0;
    ssize_t got = pread_full(fd_, buffer, n, position_);
    if (got < 0) {
      failure_ = std::string("read error at byte ") + std::to_string(position_) + ": " +
                 std::strerror(errno);
      return 0;
    }
    position_ += static_cast<std::uint64_t>(got);
    return static_cast<std::size_t>(got);
  }

  std::uint64_t skip(std::uint64_t n) override {
    std::uint64_t step = std::min(n, size_ - std::min(size_, position_));
    position_ += step;
    return step;
  }

  std::uint64_t position() const override { return position_; }
  const std::string& failure() const override { return failure_; }
  bool gzipped() const override { return false; }

 private:
  int fd_;  // borrowed from the SourceFile
  std::uint64_t size_;
  std::uint64_t position_ = 0;
  std::string failure_;
};

// Streams the inflated bytes of a gzip file (several concatenated members allowed) through
// fixed-size buffers.
class GzipSource final : public BlockSource {
 public:
  GzipSource(int fd, std::uint64_t max_inflated_bytes)
      : fd_(fd), max_inflated_(max_inflated_bytes), input_(kInputBytes) {
    if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) {
      failure_ = "cannot initialise zlib";
      return;
    }
    initialised_ = true;
  }
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;
  ~GzipSource() override {
    if (initialised_) inflateEnd(&stream_);
  }

  std::size_t read(char* buffer, std::size_t n) override { return inflate_into(buffer, n); }

  std::uint64_t skip(std::uint64_t n) override {
    std::array<char, 64 * 1024> scratch{};
    std::uint64_t done = 0;
    while (done < n) {
      std::size_t want =
          static_cast<std::size_t>(std::min<std::uint64_t>(scratch.size(), n - done));
      std::size_t got = inflate_into(scratch.data(), want);
      done += got;
      if (got < want) break;
    }
    return done;
  }

  std::uint64_t position() const override { return position_; }
  const std::string& failure() const override { return failure_; }
  bool gzipped() const override { return true; }

 private:
  static constexpr std::size_t kInputBytes = 64 * 1024;

  std::size_t inflate_into(char* buffer, std::size_t n) {
    std::size_t produced = 0;
    while (produced < n && !finished_ && failure_.empty()) {
      if (position_ >= max_inflated_) {
        failure_ =
            "gzip: stopped after inflating " + std::to_string(max_inflated_ >> 30) + " GiB (limit)";
        break;
      }
      if (stream_.avail_in == 0 && !refill()) {
        if (failure_.empty())
          failure_ = "gzip: compressed stream truncated at compressed byte " +
                     std::to_string(file_offset_);
        break;
      }
      std::size_t room = std::min<std::uint64_t>(n - produced, max_inflated_ - position_);
      stream_.next_out = reinterpret_cast<Bytef*>(buffer + produced);
      stream_.avail_out = static_cast<uInt>(std::min<std::size_t>(room, UINT32_MAX));
      uInt before = stream_.avail_out;
      int rc = inflate(&stream_, Z_NO_FLUSH);
      std::size_t got = before - stream_.avail_out;
      produced += got;
      position_ += got;
      if (rc == Z_STREAM_END) {
        next_member();
      } else if (rc == Z_BUF_ERROR && got == 0 && stream_.avail_in != 0) {
        failure_ = "gzip: inflate made no progress at compressed byte " +
                   std::to_string(consumed_offset());
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        failure_ = std::string("gzip: corrupt compressed data near compressed byte ") +
                   std::to_string(consumed_offset()) +
                   (stream_.msg ? std::string(" (") + stream_.msg + ")" : std::string());
      }
    }
    return produced;
  }

  // Another gzip member may follow; anything else ends the stream (trailing zeros are common).
  void next_member() {
    if (stream_.avail_in < 2) refill();
    if (stream_.avail_in < 2 || stream_.next_in[0] != 0x1f || stream_.next_in[1] != 0x8b) {
      finished_ = true;
      return;
    }
    inflateReset(&stream_);
  }

  // Tops up the input buffer, keeping unconsumed bytes. False at end of file (or error).
  bool refill() {
    if (eof_) return stream_.avail_in > 0;
    std::size_t keep = stream_.avail_in;
    if (keep > 0) std::memmove(input_.data(), stream_.next_in, keep);
    ssize_t got = pread_full(fd_, reinterpret_cast<char*>(input_.data()) + keep,
                             input_.size() - keep, file_offset_);
    if (got < 0) {
      failure_ = std::string("gzip: read error: ") + std::strerror(errno);
      return false;
    }
    file_offset_ += static_cast<std::uint64_t>(got);
    if (static_cast<std::size_t>(got) < input_.size() - keep) eof_ = true;
    stream_.next_in = input_.data();
    stream_.avail_in = static_cast<uInt>(keep + static_cast<std::size_t>(got));
    return stream_.avail_in > 0;
  }

  std::uint64_t consumed_offset() const { return file_offset_ - stream_.avail_in; }

  int fd_;  // borrowed from the SourceFile
  std::uint64_t max_inflated_;
  std::vector<Bytef> input_;
  z_stream stream_{};
  bool initialised_ = false;
  bool eof_ = false;
  bool finished_ = false;
  std::uint64_t file_offset_ = 0;
  std::uint64_t position_ = 0;
  std::string failure_;
};

}  // namespace

std::unique_ptr<BlockSource> open_block_source(int fd, std::uint64_t max_inflated_bytes) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw ExtractError("not a regular file");
  unsigned char magic[2] = {0, 0};
  ssize_t got = pread_full(fd, reinterpret_cast<char*>(magic), 2, 0);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    auto source = std::make_unique<GzipSource>(fd, max_inflated_bytes);
    if (!source->failure().empty()) throw ExtractError(source->failure());
    return source;
  }
  return std::make_unique<PlainFileSource>(fd, static_cast<std::uint64_t>(st.st_size));
}

}  // namespace metafs::extract::fits
