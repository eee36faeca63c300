#include "netcdf/classic_header_check.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <vector>

namespace metafs::extract::nc {
namespace {

constexpr std::uint32_t kTagDimension = 0x0A;
constexpr std::uint32_t kTagVariable = 0x0B;
constexpr std::uint32_t kTagAttribute = 0x0C;
constexpr std::uint64_t kMaxName = 256;   // NC_MAX_NAME
constexpr std::uint64_t kMaxRank = 1024;  // NC_MAX_VAR_DIMS
constexpr std::uint64_t kMaxHeader = 1ull << 30;

struct Corrupt {
  std::string reason;
};

// Big-endian fields read through a small window, so only the header is ever read.
class HeaderReader {
 public:
  HeaderReader(int fd, std::uint64_t file_size) : fd_(fd), size_(file_size) {}

  std::uint64_t remaining() const { return size_ - pos_; }

  std::uint64_t read_uint(int bytes) {
    need(static_cast<std::uint64_t>(bytes));
    std::uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) value = (value << 8) | byte_at(pos_++);
    return value;
  }

  void skip(std::uint64_t bytes) {
    need(bytes);
    pos_ += bytes;
  }

 private:
  void need(std::uint64_t bytes) {
    if (bytes > remaining()) throw Corrupt{"header runs past the end of the file"};
    if (pos_ + bytes > kMaxHeader) throw Corrupt{"header larger than 1 GiB"};
  }

  unsigned char byte_at(std::uint64_t offset) {
    if (offset < window_start_ || offset >= window_start_ + window_.size()) {
      window_.resize(64 * 1024);
      ssize_t got = ::pread(fd_, window_.data(), window_.size(), static_cast<off_t>(offset));
      if (got <= 0) throw Corrupt{"cannot read the header"};
      window_.resize(static_cast<std::size_t>(got));
      window_start_ = offset;
    }
    return window_[offset - window_start_];
  }

  int fd_;
  std::uint64_t size_;
  std::uint64_t pos_ = 0;
  std::uint64_t window_start_ = 0;
  std::vector<unsigned char> window_;
};

class ClassicHeader {
 public:
  ClassicHeader(HeaderReader& in, int version) : in_(in), version_(version) {}

  void walk() {
    in_.read_uint(4);              // magic, checked by the caller
    in_.read_uint(count_bytes());  // numrecs
    dimensions();
    attributes("global attribute");
    variables();
  }

 private:
  int count_bytes() const { return version_ == 5 ? 8 : 4; }

  // A count that each element of which takes at least `min_bytes` of the header.
  std::uint64_t count(const char* what, std::uint64_t min_bytes) {
    std::uint64_t n = in_.read_uint(count_bytes());
    if (version_ != 5 && n > 0x7fffffffu) throw Corrupt{std::string("negative ") + what + " count"};
    if (n > in_.remaining() / min_bytes)
      throw Corrupt{std::string(what) + " count larger than the file"};
    return n;
  }

  // Header lists start with a tag, or with ZERO ZERO when absent.
  std::uint64_t list(std::uint32_t tag, const char* what, std::uint64_t min_bytes) {
    std::uint64_t found = in_.read_uint(4);
    if (found == 0) {
      if (in_.read_uint(count_bytes()) != 0)
        throw Corrupt{std::string("bad absent ") + what + " list"};
      return 0;
    }
    if (found != tag) throw Corrupt{std::string("bad ") + what + " list tag"};
    return count(what, min_bytes);
  }

  void name(const char* what) {
    std::uint64_t length = count(what, 1);
    if (length > kMaxName) throw Corrupt{std::string(what) + " name too long"};
    in_.skip((length + 3) / 4 * 4);
  }

  void dimensions() {
    ndims_ = list(kTagDimension, "dimension", 8);
    std::uint64_t unlimited = 0;
    for (std::uint64_t d = 0; d < ndims_; ++d) {
      name("dimension");
      if (in_.read_uint(count_bytes()) == 0 && ++unlimited > 1)
        throw Corrupt{"more than one unlimited dimension"};
    }
  }

  static std::uint64_t type_size(std::uint64_t type, int version) {
    switch (type) {
      case 1:
      case 2:
        return 1;  // byte, char
      case 3:
        return 2;  // short
      case 4:
      case 5:
        return 4;  // int, float
      case 6:
        return 8;  // double
      default:
        break;
    }
    if (version != 5) return 0;
    switch (type) {
      case 7:
        return 1;  // ubyte
      case 8:
        return 2;  // ushort
      case 9:
        return 4;  // uint
      case 10:
      case 11:
        return 8;  // int64, uint64
      default:
        return 0;
    }
  }

  void attributes(const char* what) {
    std::uint64_t n = list(kTagAttribute, what, 12);
    for (std::uint64_t a = 0; a < n; ++a) {
      name(what);
      std::uint64_t size = type_size(in_.read_uint(4), version_);
      if (size == 0) throw Corrupt{std::string("bad ") + what + " type"};
      std::uint64_t values = count("attribute value", size);
      in_.skip((values * size + 3) / 4 * 4);
    }
  }

  void variables() {
    std::uint64_t n = list(kTagVariable, "variable", 16);
    for (std::uint64_t v = 0; v < n; ++v) {
      name("variable");
      std::uint64_t rank = count("variable dimension", static_cast<std::uint64_t>(count_bytes()));
      if (rank > kMaxRank) throw Corrupt{"variable rank too large"};
      for (std::uint64_t d = 0; d < rank; ++d) {
        if (in_.read_uint(count_bytes()) >= ndims_)
          throw Corrupt{"variable with a bad dimension id"};
      }
      attributes("variable attribute");
      if (type_size(in_.read_uint(4), version_) == 0) throw Corrupt{"bad variable type"};
      in_.read_uint(count_bytes());          // vsize
      in_.read_uint(version_ == 1 ? 4 : 8);  // begin
    }
  }

  HeaderReader& in_;
  int version_;
  std::uint64_t ndims_ = 0;
};

}  // namespace

std::string check_classic_header(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {};
  std::array<unsigned char, 4> magic{};
  if (::pread(fd, magic.data(), magic.size(), 0) != static_cast<ssize_t>(magic.size())) return {};
  if (magic[0] != 'C' || magic[1] != 'D' || magic[2] != 'F') return {};
  int version = magic[3];
  if (version != 1 && version != 2 && version != 5) return {};
  try {
    HeaderReader in(fd, static_cast<std::uint64_t>(st.st_size));
    ClassicHeader(in, version).walk();
  } catch (const Corrupt& corrupt) {
    return "corrupt classic header: " + corrupt.reason;
  }
  return {};
}

}  // namespace metafs::extract::nc
