#include "registry.hpp"

#include <new>

#include "dicom/dicom_extractor.hpp"
#include "fits/fits_extractor.hpp"
#include "hdf5/hdf5_extractor.hpp"
#include "netcdf/netcdf_extractor.hpp"

namespace metafs::extract {
namespace {

// Bumped when the format-neutral parts (naming, rendering inputs) change.
// 2: names of any length; 3: empty lists ([] in metadata.json)
constexpr std::uint32_t kCoreSchemaVersion = 3;

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
  run(*extractor, file, out);
  // An HDF5 file netCDF-C refuses still shows what HDF5 reads in it, under its format.
  if (out.format == Format::kNetcdf && detected == Format::kHdf5 && out.failed() &&
      out.tree.size() <= 1 && out.header.empty()) {
    Extraction view = extract_hdf5_view(file, out.error);
    if (view.tree.size() > 1 || !view.header.empty()) out = std::move(view);
  }
  one_line(out.error);
  return out;
}

Extraction ExtractorRegistry::extract_hdf5_view(const SourceFile& file,
                                                std::string_view netcdf_failure) const {
  Extraction view = extract_as_hdf5(file);
  explain_hdf5_view(view, netcdf_failure);
  return view;
}

Extraction ExtractorRegistry::extract_as_hdf5(const SourceFile& file) const {
  Extraction view;
  view.format = Format::kNetcdf;
  run(*find(Format::kHdf5), file, view);
  one_line(view.error);
  return view;
}

void ExtractorRegistry::explain_hdf5_view(Extraction& view, std::string_view netcdf_failure) {
  std::string why =
      "netCDF-C cannot read this file (" + std::string(netcdf_failure) + "), shown as HDF5";
  view.error = view.error.empty() ? why : why + "; " + view.error;
  one_line(view.error);
}

void ExtractorRegistry::one_line(std::string& error) {
  for (char& c : error) {
    if (c == '\n' || c == '\r') c = ' ';
  }
}

void ExtractorRegistry::run(const Extractor& extractor, const SourceFile& file, Extraction& out) {
  try {
    extractor.extract(file, out);
  } catch (const ExtractError& e) {
    out.error = e.what();
  } catch (const std::bad_alloc&) {
    out.error = "out of memory while reading the header";
  } catch (const std::exception& e) {
    out.error = std::string("internal error: ") + e.what();
  } catch (...) {
    out.error = "internal error: unknown exception";
  }
}

}  // namespace metafs::extract
