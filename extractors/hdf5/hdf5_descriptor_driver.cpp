#include "hdf5_descriptor_driver.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace metafs::extract::hdf5 {
namespace {

// What a file access property list carries for this driver.
struct DriverInfo {
  int fd = -1;
};

struct DescriptorFile {
  H5FD_t pub;  // first: the library sees only this part
  int fd;
  haddr_t eoa;
  haddr_t eof;
  dev_t device;
  ino_t inode;
};

// The largest address pread can take, as in sec2.
constexpr haddr_t kMaxAddress = (static_cast<haddr_t>(1) << (8 * sizeof(off_t) - 1)) - 1;
// Linux transfers at most this much per call.
constexpr std::size_t kMaxReadBytes = 0x7ffff000;

#define METAFS_PUSH_ERROR(major, minor, ...) \
  H5Epush2(H5E_DEFAULT, __FILE__, __func__, __LINE__, H5E_ERR_CLS, major, minor, __VA_ARGS__)

bool address_overflows(haddr_t address) {
  return address == HADDR_UNDEF || (address & ~kMaxAddress) != 0;
}

bool region_overflows(haddr_t address, std::size_t size) {
  return address_overflows(address) || (static_cast<haddr_t>(size) & ~kMaxAddress) != 0 ||
         address + size == HADDR_UNDEF || address + size > kMaxAddress;
}

void* info_get(H5FD_t* file) noexcept {
  auto* info = static_cast<DriverInfo*>(std::malloc(sizeof(DriverInfo)));
  if (info != nullptr) info->fd = reinterpret_cast<DescriptorFile*>(file)->fd;
  return info;
}

void* info_copy(const void* from) noexcept {
  auto* info = static_cast<DriverInfo*>(std::malloc(sizeof(DriverInfo)));
  if (info != nullptr) *info = *static_cast<const DriverInfo*>(from);
  return info;
}

herr_t info_free(void* info) noexcept {
  std::free(info);
  return 0;
}

H5FD_t* open_file(const char* name, unsigned flags, hid_t fapl, haddr_t maxaddr) noexcept {
  // Any other name is a file the one being read refers to (external link, virtual dataset
  // source) opened with its parent's driver: refused, never opened.
  if (name == nullptr || std::strcmp(name, kDescriptorFileName) != 0) {
    METAFS_PUSH_ERROR(H5E_ARGS, H5E_BADVALUE, "this driver opens no other file");
    return nullptr;
  }
  if ((flags & (H5F_ACC_RDWR | H5F_ACC_CREAT | H5F_ACC_TRUNC | H5F_ACC_EXCL)) != 0) {
    METAFS_PUSH_ERROR(H5E_ARGS, H5E_BADVALUE, "read-only driver");
    return nullptr;
  }
  if (maxaddr == 0 || maxaddr == HADDR_UNDEF || address_overflows(maxaddr)) {
    METAFS_PUSH_ERROR(H5E_ARGS, H5E_BADRANGE, "bogus maxaddr");
    return nullptr;
  }
  const auto* info = static_cast<const DriverInfo*>(H5Pget_driver_info(fapl));
  if (info == nullptr || info->fd < 0) {
    METAFS_PUSH_ERROR(H5E_VFL, H5E_BADVALUE, "no descriptor in the file access properties");
    return nullptr;
  }
  struct stat st {};
  if (::fstat(info->fd, &st) != 0) {
    int error = errno;
    METAFS_PUSH_ERROR(H5E_FILE, H5E_BADFILE, "unable to fstat file: %s", std::strerror(error));
    return nullptr;
  }
  auto* file = static_cast<DescriptorFile*>(std::calloc(1, sizeof(DescriptorFile)));
  if (file == nullptr) {
    METAFS_PUSH_ERROR(H5E_RESOURCE, H5E_NOSPACE, "unable to allocate file struct");
    return nullptr;
  }
  file->fd = info->fd;
  file->eof = static_cast<haddr_t>(st.st_size);
  file->device = st.st_dev;
  file->inode = st.st_ino;
  return &file->pub;
}

// The descriptor is borrowed: only the driver's own state goes.
herr_t close_file(H5FD_t* file) noexcept {
  std::free(file);
  return 0;
}

// Files are the same when they are the same inode read through the same descriptor. Two
// descriptors of one inode stay two files: a library that shared them would go on reading
// the first one's descriptor after its owner closed it.
int compare_files(const H5FD_t* first, const H5FD_t* second) noexcept {
  const auto* a = reinterpret_cast<const DescriptorFile*>(first);
  const auto* b = reinterpret_cast<const DescriptorFile*>(second);
  if (a->device != b->device) return a->device < b->device ? -1 : 1;
  if (a->inode != b->inode) return a->inode < b->inode ? -1 : 1;
  if (a->fd != b->fd) return a->fd < b->fd ? -1 : 1;
  return 0;
}

// What sec2 offers for reading; not POSIX_COMPAT_HANDLE, whose users look the file up by
// name, nor SWMR.
herr_t query(const H5FD_t*, unsigned long* flags) noexcept {
  if (flags != nullptr) {
    *flags = H5FD_FEAT_AGGREGATE_METADATA | H5FD_FEAT_ACCUMULATE_METADATA | H5FD_FEAT_DATA_SIEVE |
             H5FD_FEAT_AGGREGATE_SMALLDATA;
  }
  return 0;
}

haddr_t get_eoa(const H5FD_t* file, H5FD_mem_t) noexcept {
  return reinterpret_cast<const DescriptorFile*>(file)->eoa;
}

herr_t set_eoa(H5FD_t* file, H5FD_mem_t, haddr_t address) noexcept {
  reinterpret_cast<DescriptorFile*>(file)->eoa = address;
  return 0;
}

haddr_t get_eof(const H5FD_t* file, H5FD_mem_t) noexcept {
  return reinterpret_cast<const DescriptorFile*>(file)->eof;
}

herr_t get_handle(H5FD_t* file, hid_t, void** handle) noexcept {
  if (handle == nullptr) {
    METAFS_PUSH_ERROR(H5E_ARGS, H5E_BADVALUE, "file handle not valid");
    return -1;
  }
  *handle = &reinterpret_cast<DescriptorFile*>(file)->fd;
  return 0;
}

// As sec2: pread at the address (the descriptor's offset is not ours), retried when
// interrupted or short, and zeros past the end of the file, which the library relies on.
herr_t read_at(H5FD_t* file_base, H5FD_mem_t, hid_t, haddr_t address, std::size_t size,
               void* buffer) noexcept {
  auto* file = reinterpret_cast<DescriptorFile*>(file_base);
  if (address == HADDR_UNDEF) {
    METAFS_PUSH_ERROR(H5E_ARGS, H5E_BADVALUE, "addr undefined, addr = %llu",
                      static_cast<unsigned long long>(address));
    return -1;
  }
  if (region_overflows(address, size)) {
    METAFS_PUSH_ERROR(H5E_ARGS, H5E_OVERFLOW, "addr overflow, addr = %llu",
                      static_cast<unsigned long long>(address));
    return -1;
  }
  auto* out = static_cast<unsigned char*>(buffer);
  while (size > 0) {
    std::size_t want = size < kMaxReadBytes ? size : kMaxReadBytes;
    ssize_t got;
    do {
      got = ::pread(file->fd, out, want, static_cast<off_t>(address));
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      int error = errno;
      METAFS_PUSH_ERROR(H5E_IO, H5E_READERROR,
                        "file read failed: errno = %d, error message = '%s', offset = %llu", error,
                        std::strerror(error), static_cast<unsigned long long>(address));
      return -1;
    }
    if (got == 0) {
      std::memset(out, 0, size);
      break;
    }
    size -= static_cast<std::size_t>(got);
    address += static_cast<haddr_t>(got);
    out += got;
  }
  return 0;
}

herr_t refuse_write(H5FD_t*, H5FD_mem_t, hid_t, haddr_t, std::size_t, const void*) noexcept {
  METAFS_PUSH_ERROR(H5E_IO, H5E_WRITEERROR, "read-only driver");
  return -1;
}

// File locking is off for every file this process opens (read-only, network filesystems).
herr_t lock(H5FD_t*, hbool_t) noexcept {
  return 0;
}
herr_t unlock(H5FD_t*) noexcept {
  return 0;
}

H5FD_class_t make_class() {
  H5FD_class_t cls{};
  cls.name = "metafs_descriptor";
  cls.maxaddr = kMaxAddress;
  cls.fc_degree = H5F_CLOSE_WEAK;
  cls.fapl_size = sizeof(DriverInfo);
  cls.fapl_get = info_get;
  cls.fapl_copy = info_copy;
  cls.fapl_free = info_free;
  cls.open = open_file;
  cls.close = close_file;
  cls.cmp = compare_files;
  cls.query = query;
  cls.get_eoa = get_eoa;
  cls.set_eoa = set_eoa;
  cls.get_eof = get_eof;
  cls.get_handle = get_handle;
  cls.read = read_at;
  cls.write = refuse_write;
  cls.lock = lock;
  cls.unlock = unlock;
  const H5FD_mem_t map[] = H5FD_FLMAP_DICHOTOMY;
  static_assert(sizeof(map) == sizeof(cls.fl_map));
  std::memcpy(cls.fl_map, map, sizeof(map));
  return cls;
}

#undef METAFS_PUSH_ERROR

// Registered once; again only if something closed the library since.
hid_t driver_id() {
  static const H5FD_class_t cls = make_class();
  static hid_t id = H5I_INVALID_HID;
  if (id < 0 || H5Iis_valid(id) <= 0) id = H5FDregister(&cls);
  return id;
}

}  // namespace

herr_t use_descriptor_driver(hid_t fapl, int fd) {
  hid_t driver = driver_id();
  if (driver < 0) return -1;
  DriverInfo info;
  info.fd = fd;
  return H5Pset_driver(fapl, driver, &info);
}

}  // namespace metafs::extract::hdf5
