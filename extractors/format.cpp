#include "format.hpp"

#include <cctype>
#include <string>

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

bool has_netcdf_name(std::string_view name) {
  auto dot = name.rfind('.');
  auto slash = name.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && slash > dot))
    return false;
  std::string ext(name.substr(dot));
  for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".nc" || ext == ".nc4" || ext == ".cdf" || ext == ".netcdf";
}

}  // namespace metafs::extract
