#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "extractor.hpp"

namespace metafs::extract {

// All extractors, by format. Never throws from extract(): every failure becomes
// Extraction::error.
class ExtractorRegistry {
 public:
  ExtractorRegistry();

  // Extracts `file`, which detection said is of format `detected`. A netCDF-4 file (HDF5
  // signature) that netCDF-C cannot open is shown as the HDF5 extractor reads it, keeping
  // format netcdf, with an error line saying so.
  Extraction extract(const SourceFile& file, Format detected) const;

  // The HDF5 extractor's view of a file shown as netcdf, format netcdf, error
  // "netCDF-C cannot read this file (<netcdf_failure>), shown as HDF5". extract() uses it
  // when netCDF-C refuses the file; a caller that saw netCDF-C crash or hang on it (in a
  // worker) can ask for it too.
  Extraction extract_hdf5_view(const SourceFile& file, std::string_view netcdf_failure) const;
  // The same without the message: the HDF5 extractor's reading, `format` netcdf (what a worker
  // answers when the daemon asks for the HDF5 view).
  Extraction extract_as_hdf5(const SourceFile& file) const;
  // Puts "netCDF-C cannot read this file (<netcdf_failure>), shown as HDF5" first in
  // `view.error` (before what HDF5 itself reported).
  static void explain_hdf5_view(Extraction& view, std::string_view netcdf_failure);

  // Version of everything the registry produces for `format` (cache keys include it).
  std::uint32_t schema_version(Format format) const;

 private:
  const Extractor* find(Format format) const;
  // Runs `extractor`, turning what it throws into out.error.
  static void run(const Extractor& extractor, const SourceFile& file, Extraction& out);
  // The error file is one line.
  static void one_line(std::string& error);

  std::array<std::unique_ptr<Extractor>, 5> by_format_;
};

}  // namespace metafs::extract
