#include "format.hpp"

namespace metafs::extract {

std::string_view format_name(Format format) {
  switch (format) {
    case Format::kDicom:
      return "dicom";
    case Format::kFits:
      return "fits";
    case Format::kHdf5:
      return "hdf5";
    case Format::kNetcdf:
      return "netcdf";
    case Format::kNone:
      break;
  }
  return "none";
}

std::optional<Format> parse_format(std::string_view name) {
  for (Format f : {Format::kNone, Format::kDicom, Format::kFits, Format::kHdf5, Format::kNetcdf}) {
    if (format_name(f) == name) return f;
  }
  return std::nullopt;
}

}  // namespace metafs::extract
