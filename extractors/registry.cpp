#include "registry.hpp"

#include <new>

#include "dicom/dicom_extractor.hpp"
#include "fits/fits_extractor.hpp"
#include "hdf5/hdf5_extractor.hpp"
#include "netcdf/netcdf_extractor.hpp"

namespace metafs::extract {
namespace {

// Bumped when the format-neutral parts (naming, rendering inputs) change.
constexpr std::uint32_t kCoreSchemaVersion = 2;  // 2: names of any length

std::size_t slot(Format format) {
  return static_cast<std::size_t>(format);
}

}  // namespace

ExtractorRegistry::ExtractorRegistry() {
  by_format_[slot(Format::kDicom)] = make_dicom_extractor();
  by_format_[slot(Format::kFits)] = make_fits_extractor();
  by_format_[slot(Format::kHdf5)] = make_hdf5_extractor();
  by_format_[slot(Format::kNetcdf)] = make_netcdf_extractor();
}

const Extractor* ExtractorRegistry::find(Format format) const {
  std::size_t i = slot(format);
  return i < by_format_.size() ? by_format_[i].get() : nullptr;
}

std::uint32_t ExtractorRegistry::schema_version(Format format) const {
  const Extractor* extractor = find(format);
  return kCoreSchemaVersion * 1000 + (extractor ? extractor->schema_version() : 0);
}

Extraction ExtractorRegistry::extract(const SourceFile& file, Format detected) const {
  Extraction out;
  out.format = detected;
  // netCDF-4 files are HDF5 files: the HDF5 module decides which of the two a file is.
  if (detected == Format::kHdf5 && hdf5_file_is_netcdf4(file.fd(), file.base_name()))
    out.format = Format::kNetcdf;
  const Extractor* extractor = find(out.format);
  if (extractor == nullptr) {
    out.error = "no extractor for this format";
    return out;
  }
  try {
    extractor->extract(file, out);
  } catch (const ExtractError& e) {
    out.error = e.what();
  } catch (const std::bad_alloc&) {
    out.error = "out of memory while reading the header";
  } catch (const std::exception& e) {
    out.error = std::string("internal error: ") + e.what();
  } catch (...) {
    out.error = "internal error: unknown exception";
  }
  // The error file is one line.
  for (char& c : out.error) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace metafs::extract
