#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <cstdint>
#include <optional>
#include <string>

namespace metafs::extract::dicom {

// The top-level element at which reading stopped (Pixel Data, or any later tag): its header
// was read, its value was not.
struct StopElement {
  std::uint16_t group = 0;
  std::uint16_t element = 0;
  std::string vr;            // explicit VR as stored; "" for implicit VR
  std::uint32_t length = 0;  // kUndefinedLength for encapsulated data
  std::uint64_t value_offset = 0;

  static constexpr std::uint32_t kUndefinedLength = 0xFFFFFFFF;
};

// A DICOM file read up to (not including) its Pixel Data.
struct DicomHeaders {
  DcmFileFormat file;
  std::string error;                // DCMTK's reason when the file could not be read completely
  bool stopped = false;             // reading stopped at Pixel Data (or a later top-level tag)
  std::optional<StopElement> stop;  // that element's header, when it could be located
  std::size_t objects = 0;          // elements and sequence items read (meta header and dataset)
};

// Reads the meta header and dataset of the file open on `fd` with DCMTK, headers only: values
// larger than kMaxReadLength stay in the file, and parsing stops before the top-level Pixel
// Data, so the cost does not depend on the size of the pixel data. All transfer syntaxes DCMTK
// reads, with or without preamble and meta header. Reads with pread() from offset 0, never by
// path and never moving `fd`'s offset; `fd` is borrowed for the call only (`out.file` keeps a
// duplicate for values it loads later). A value cut off by the end of the file holds only the
// bytes the file has, and `error` says so. Never throws for bad files: see `error`.
void read_headers(int fd, DicomHeaders& out);

}  // namespace metafs::extract::dicom
