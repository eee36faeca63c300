// libFuzzer target for one extractor (METAFS_FUZZ_FACTORY = make_<format>_extractor): the
// input is written to a file and extracted as the worker would. Crashes and sanitizer reports
// are findings; ExtractError is the expected answer to most inputs.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "dicom/dicom_extractor.hpp"
#include "fits/fits_extractor.hpp"
#include "hdf5/hdf5_extractor.hpp"
#include "netcdf/netcdf_extractor.hpp"

namespace {

// One scratch file per process (libFuzzer runs inputs one after another).
const std::string& scratch_path() {
  static const std::string path = [] {
    std::string pattern = "/tmp/metafs-fuzz-XXXXXX";
    int fd = ::mkstemp(pattern.data());
    if (fd >= 0) ::close(fd);
    return pattern;
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto extractor = metafs::extract::METAFS_FUZZ_FACTORY();
  int fd = ::open(scratch_path().c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) return 0;
  for (std::size_t done = 0; done < size;) {
    ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  metafs::extract::Extraction out;
  try {
    extractor->extract(metafs::extract::open_source_file(scratch_path()), out);
  } catch (const metafs::extract::ExtractError&) {
  }
  return 0;
}
