#include "worker_warmup.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <ctime>
#include <string>

namespace metafs::extract::worker {
namespace {

std::string card(const std::string& text) {
  std::string c = text;
  c.resize(80, ' ');
  return c;
}

std::string tiny_fits() {
  std::string bytes = card("SIMPLE  =                    T") +
                      card("BITPIX  =                    8") +
                      card("NAXIS   =                    0") + card("END");
  bytes.resize(2880, ' ');
  return bytes;
}

std::string tiny_netcdf() {
  std::string bytes("CDF\x01", 4);
  bytes.append(28, '\0');  // numrecs, then absent dimension, attribute and variable lists
  return bytes;
}

void put_element(std::string& out, std::uint16_t group, std::uint16_t element, const char* vr,
                 std::string value) {
  if (value.size() % 2 != 0) value.push_back(vr[0] == 'U' && vr[1] == 'I' ? '\0' : ' ');
  auto u16 = [&](std::uint16_t v) {
    out.push_back(static_cast<char>(v & 0xff));
    out.push_back(static_cast<char>(v >> 8));
  };
  u16(group);
  u16(element);
  out.append(vr, 2);
  u16(static_cast<std::uint16_t>(value.size()));
  out.append(value);
}

// A DICOM file whose Specific Character Set names `charsets` (backslash-separated).
std::string tiny_dicom(const std::string& charsets) {
  std::string meta;
  put_element(meta, 0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1");
  std::string group_length;
  for (int i = 0; i < 4; ++i)
    group_length.push_back(static_cast<char>((meta.size() >> (8 * i)) & 0xff));
  std::string bytes(128, '\0');
  bytes.append("DICM");
  put_element(bytes, 0x0002, 0x0000, "UL", group_length);
  bytes.append(meta);
  put_element(bytes, 0x0008, 0x0005, "CS", charsets);
  put_element(bytes, 0x0008, 0x0060, "CS", "OT");
  put_element(bytes, 0x0010, 0x0010, "PN", "Doe^J\xe9");
  return bytes;
}

void extract_sample(const ExtractorRegistry& registry, Format format, const std::string& bytes) {
  SourceFile sample(FileDescriptor(::memfd_create("metafs-warmup", MFD_CLOEXEC)), "warm-up");
  if (sample.fd() < 0) return;
  if (::write(sample.fd(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size())) {
    (void)registry.extract(sample, format);
  }
}

}  // namespace

void warm_up(const ExtractorRegistry& registry) {
  // The time zone is read now: HDF5 formats error times with ctime(), which would try to open
  // /etc/localtime once the sandbox forbids opening anything.
  ::tzset();
  // glibc's iconv modules for every DICOM character set were loaded and pinned when the
  // registry made the DICOM extractor (dicom::keep_character_set_modules).
  try {
    extract_sample(registry, Format::kFits, tiny_fits());
    extract_sample(registry, Format::kNetcdf, tiny_netcdf());
    // Not HDF5: opening it still initialises the HDF5 library and its error stacks.
    extract_sample(registry, Format::kHdf5, tiny_netcdf());
    for (const char* charsets :
         {"ISO_IR 100", "ISO_IR 192", "GB18030", "\\ISO 2022 IR 87", "\\ISO 2022 IR 149",
          "\\ISO 2022 IR 58", "ISO_IR 13\\ISO 2022 IR 87", "ISO_IR 166", "GBK"}) {
      extract_sample(registry, Format::kDicom, tiny_dicom(charsets));
    }
  } catch (...) {
    // A sample that fails to extract only means less was warmed up.
  }
}

}  // namespace metafs::extract::worker
