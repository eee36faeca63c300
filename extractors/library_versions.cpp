#include "library_versions.hpp"

#include "codec.hpp"
#include "dicom/dicom_extractor.hpp"
#include "fits/fits_extractor.hpp"
#include "hdf5/hdf5_extractor.hpp"
#include "netcdf/netcdf_extractor.hpp"

namespace metafs::extract {

std::vector<LibraryVersion> format_library_versions() {
  return {{"DCMTK", dicom_library_version()},
          {"CFITSIO", fits_library_version()},
          {"HDF5", hdf5_library_version()},
          {"netCDF-C", netcdf_library_version()},
          {"zstd", zstd_library_version()}};
}

}  // namespace metafs::extract
