#include "lmdb_meta.hpp"

#include <fcntl.h>
#include <spdlog/fmt/fmt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace metafs::cache {
namespace {

// LMDB 0.9's on-disk layout (mdb.c; native byte order, 64-bit pgno_t and txnid_t):
// a page header of 16 bytes (mp_pgno 8, mp_pad 2, mp_flags 2, bounds 4), then MDB_meta:
//   mm_magic u32 @0, mm_version u32 @4, mm_address @8, mm_mapsize @16,
//   mm_dbs[2] of MDB_db (48 bytes each: md_pad u32 @0 — the page size in the free DB's —,
//   flags, depth, branch/leaf/overflow pages, entries, md_root u64 @40) @24,
//   mm_last_pg u64 @120, mm_txnid u64 @128.
constexpr std::size_t kPageHeader = 16;
constexpr std::size_t kFlagsOffset = 10;
constexpr std::uint16_t kPageMeta = 0x08;
constexpr std::uint32_t kMagic = 0xBEEFC0DE;
constexpr std::uint32_t kDataVersion = 1;
constexpr std::size_t kMetaBytes = 136;
constexpr std::size_t kPsizeOffset = 24;
constexpr std::size_t kFreeRootOffset = 24 + 40;
constexpr std::size_t kMainRootOffset = 24 + 48 + 40;
constexpr std::size_t kLastPageOffset = 120;
constexpr std::size_t kTxnIdOffset = 128;
constexpr std::uint64_t kNoPage = ~std::uint64_t{0};  // P_INVALID: an empty B-tree
constexpr std::uint32_t kMinPageSize = 512;
constexpr std::uint32_t kMaxPageSize = 65536;

struct Meta {
  std::uint32_t psize = 0;
  std::uint64_t free_root = 0;
  std::uint64_t main_root = 0;
  std::uint64_t last_page = 0;
  std::uint64_t txnid = 0;
};

template <typename T>
T load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// nullopt when the page at `offset` is not an LMDB meta page of our version.
std::optional<Meta> read_meta(int fd, off_t offset) {
  std::array<unsigned char, kPageHeader + kMetaBytes> page;
  if (::pread(fd, page.data(), page.size(), offset) != static_cast<ssize_t>(page.size())) {
    return std::nullopt;
  }
  if ((load<std::uint16_t>(&page[kFlagsOffset]) & kPageMeta) == 0) return std::nullopt;
  const unsigned char* m = &page[kPageHeader];
  if (load<std::uint32_t>(m) != kMagic || load<std::uint32_t>(m + 4) != kDataVersion) {
    return std::nullopt;
  }
  Meta meta;
  meta.psize = load<std::uint32_t>(m + kPsizeOffset);
  meta.free_root = load<std::uint64_t>(m + kFreeRootOffset);
  meta.main_root = load<std::uint64_t>(m + kMainRootOffset);
  meta.last_page = load<std::uint64_t>(m + kLastPageOffset);
  meta.txnid = load<std::uint64_t>(m + kTxnIdOffset);
  return meta;
}

bool valid_page_size(std::uint32_t psize) {
  return psize >= kMinPageSize && psize <= kMaxPageSize && (psize & (psize - 1)) == 0;
}

}  // namespace

std::optional<std::string> lmdb_mapping_problem(const std::filesystem::path& data_file) {
  int fd = ::open(data_file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st;
  std::optional<Meta> first, second;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    first = read_meta(fd, 0);
    if (first && valid_page_size(first->psize)) second = read_meta(fd, first->psize);
  }
  ::close(fd);
  // Not LMDB, or one meta page unreadable: mdb_env_open refuses it before mapping.
  if (!first) return std::nullopt;
  if (!valid_page_size(first->psize)) {
    return fmt::format("damaged: page size {} in its first meta page", first->psize);
  }
  if (!second) return std::nullopt;
  const Meta& meta = second->txnid > first->txnid ? *second : *first;
  if (meta.psize != first->psize) {
    return fmt::format("damaged: meta pages disagree on the page size ({} and {})", first->psize,
                       second->psize);
  }
  auto size = static_cast<std::uint64_t>(st.st_size);
  std::uint64_t pages = size / meta.psize;
  if (meta.last_page >= kNoPage / meta.psize) {
    return fmt::format("damaged: last page {} in its meta page", meta.last_page);
  }
  if (meta.last_page >= pages) {
    return fmt::format("truncated: {} bytes, its meta page needs {} ({} pages of {})", size,
                       (meta.last_page + 1) * meta.psize, meta.last_page + 1, meta.psize);
  }
  for (std::uint64_t root : {meta.free_root, meta.main_root}) {
    if (root != kNoPage && (root < 2 || root > meta.last_page)) {
      return fmt::format("damaged: B-tree root at page {}, last page {}", root, meta.last_page);
    }
  }
  return std::nullopt;
}

}  // namespace metafs::cache
