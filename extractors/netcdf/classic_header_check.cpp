#include "netcdf/classic_header_check.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace metafs::extract::nc {
namespace {

constexpr std::uint32_t kTagDimension = 0x0A;
constexpr std::uint32_t kTagVariable = 0x0B;
constexpr std::uint32_t kTagAttribute = 0x0C;
constexpr std::uint64_t kMaxName = 256;   // NC_MAX_NAME
constexpr std::uint64_t kMaxRank = 1024;  // NC_MAX_VAR_DIMS
constexpr std::uint64_t kMaxHeader = 1ull << 30;
constexpr std::uint64_t kMaxSalvaged = 64ull << 20;  // a damaged header's readable part

struct Corrupt {
  std::string reason;
};

constexpr const char* kRanOut = "header runs past the end of the file";

// Big-endian fields read through a small window, so only the header is ever read.
class HeaderReader {
 public:
  HeaderReader(int fd, std::uint64_t file_size) : fd_(fd), size_(file_size) {}

  std::uint64_t remaining() const { return size_ - pos_; }
  std::uint64_t position() const { return pos_; }

  // Bytes [from, to) of the part already walked.
  std::string bytes(std::uint64_t from, std::uint64_t to) {
    std::string out;
    out.reserve(to - from);
    for (std::uint64_t i = from; i < to; ++i) out += static_cast<char>(byte_at(i));
    return out;
  }

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
    if (bytes > remaining()) throw Corrupt{kRanOut};
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

// The elements of a header list (dimensions, attributes or variables) read completely:
// they lie one after the other in [begin, end).
struct ListSpan {
  std::uint64_t count = 0;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

class ClassicHeader {
 public:
  ClassicHeader(HeaderReader& in, int version) : in_(in), version_(version) {}

  // Walks the whole header; throws Corrupt at the first damage. The lists keep what was
  // read completely before it.
  void walk() {
    in_.read_uint(4);  // magic, checked by the caller
    numrecs_ = in_.read_uint(count_bytes());
    dimensions();
    attributes("global attribute", &global_attributes_);
    variables();
  }

  // A consistent header of the complete elements; "" when there are none.
  // Throws Corrupt when the bytes cannot be read again.
  std::string salvaged() {
    if (dimensions_.count + global_attributes_.count + variables_.count == 0) return {};
    std::uint64_t total = dimensions_.end - dimensions_.begin + global_attributes_.end -
                          global_attributes_.begin + variables_.end - variables_.begin;
    if (total > kMaxSalvaged) return {};
    std::string h = "CDF";
    h += static_cast<char>(version_);
    put_uint(h, numrecs_, count_bytes());
    put_list(h, kTagDimension, dimensions_);
    put_list(h, kTagAttribute, global_attributes_);
    put_list(h, kTagVariable, variables_);
    return h;
  }

 private:
  int count_bytes() const { return version_ == 5 ? 8 : 4; }

  static void put_uint(std::string& h, std::uint64_t value, int bytes) {
    for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8)
      h += static_cast<char>((value >> shift) & 0xff);
  }

  void put_list(std::string& h, std::uint32_t tag, const ListSpan& list) {
    put_uint(h, list.count == 0 ? 0 : tag, 4);  // an empty list is ZERO ZERO
    put_uint(h, list.count, count_bytes());
    h += in_.bytes(list.begin, list.end);
  }

  void keep(ListSpan& list, std::uint64_t start) {
    if (list.count++ == 0) list.begin = start;
    list.end = in_.position();
  }

  // A count; the elements that follow are read until the header ends, so a count larger
  // than the file is reported only after the elements that are there.
  std::uint64_t count(const char* what, std::uint64_t min_bytes) {
    std::uint64_t n = in_.read_uint(count_bytes());
    if (version_ != 5 && n > 0x7fffffffu) throw Corrupt{std::string("negative ") + what + " count"};
    if (n > in_.remaining() / min_bytes && too_large_.empty())
      too_large_ = std::string(what) + " count larger than the file";
    return n;
  }

  // A length that must fit in what remains of the file (else it was cut, or the length
  // is wrong, which cannot be told apart).
  std::uint64_t length(const char* what, std::uint64_t min_bytes) {
    std::uint64_t n = in_.read_uint(count_bytes());
    if (version_ != 5 && n > 0x7fffffffu) throw Corrupt{std::string("negative ") + what + " count"};
    if (n > in_.remaining() / min_bytes) throw Corrupt{kRanOut};
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

  // netCDF-C writes no empty name (old writers padded some with NULs, which it reads as the
  // end of the name): after a count that does not fit in the file, an empty name is where
  // the list turned into other bytes.
  void name(const char* what) {
    std::uint64_t n = length(what, 1);
    if (n > kMaxName) throw Corrupt{std::string(what) + " name too long"};
    std::uint64_t start = in_.position();
    in_.skip((n + 3) / 4 * 4);
    if (n == 0 || in_.bytes(start, start + 1)[0] == '\0')
      throw Corrupt{std::string("empty ") + what + " name"};
  }

  void dimensions() {
    std::uint64_t n = list(kTagDimension, "dimension", 8);
    std::uint64_t unlimited = 0;
    for (std::uint64_t d = 0; d < n; ++d) {
      std::uint64_t start = in_.position();
      name("dimension");
      if (in_.read_uint(count_bytes()) == 0 && ++unlimited > 1)
        throw Corrupt{"more than one unlimited dimension"};
      keep(dimensions_, start);
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

  void attributes(const char* what, ListSpan* kept) {
    std::uint64_t n = list(kTagAttribute, what, 12);
    for (std::uint64_t a = 0; a < n; ++a) {
      std::uint64_t start = in_.position();
      name(what);
      std::uint64_t size = type_size(in_.read_uint(4), version_);
      if (size == 0) throw Corrupt{std::string("bad ") + what + " type"};
      std::uint64_t values = length("attribute value", size);
      in_.skip((values * size + 3) / 4 * 4);
      if (kept != nullptr) keep(*kept, start);
    }
  }

  void variables() {
    std::uint64_t n = list(kTagVariable, "variable", 16);
    for (std::uint64_t v = 0; v < n; ++v) {
      std::uint64_t start = in_.position();
      name("variable");
      std::uint64_t rank = length("variable dimension", static_cast<std::uint64_t>(count_bytes()));
      if (rank > kMaxRank) throw Corrupt{"variable rank too large"};
      for (std::uint64_t d = 0; d < rank; ++d) {
        if (in_.read_uint(count_bytes()) >= dimensions_.count)
          throw Corrupt{"variable with a bad dimension id"};
      }
      attributes("variable attribute", nullptr);
      if (type_size(in_.read_uint(4), version_) == 0) throw Corrupt{"bad variable type"};
      in_.read_uint(count_bytes());          // vsize
      in_.read_uint(version_ == 1 ? 4 : 8);  // begin
      keep(variables_, start);
    }
  }

 public:
  // The first count found larger than the file.
  const std::string& count_too_large() const { return too_large_; }

 private:
  HeaderReader& in_;
  int version_;
  std::uint64_t numrecs_ = 0;
  ListSpan dimensions_;
  ListSpan global_attributes_;
  ListSpan variables_;
  std::string too_large_;
};

}  // namespace

ClassicHeaderCheck check_classic_header(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {};
  std::array<unsigned char, 4> magic{};
  if (::pread(fd, magic.data(), magic.size(), 0) != static_cast<ssize_t>(magic.size())) return {};
  if (magic[0] != 'C' || magic[1] != 'D' || magic[2] != 'F') return {};
  int version = magic[3];
  if (version != 1 && version != 2 && version != 5) return {};
  HeaderReader in(fd, static_cast<std::uint64_t>(st.st_size));
  ClassicHeader header(in, version);
  ClassicHeaderCheck result;
  try {
    header.walk();
    return result;
  } catch (const Corrupt& corrupt) {
    // After a count larger than the file, reaching the end means the file was cut; other
    // damage means the count was wrong and the list turned into other bytes.
    const std::string& count = header.count_too_large();
    bool cut = corrupt.reason == kRanOut || count.empty();
    result.damage = "corrupt classic header: " + (cut ? corrupt.reason : count);
  }
  try {
    result.salvaged = header.salvaged();
  } catch (const Corrupt&) {
    result.salvaged.clear();  // the bytes already walked could not be read again
  }
  return result;
}

}  // namespace metafs::extract::nc
