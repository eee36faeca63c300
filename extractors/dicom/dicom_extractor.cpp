#include "dicom/dicom_extractor.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcobject.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcvr.h>
#include <dcmtk/oflog/oflog.h>
#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "dicom/dicom_dictionary.hpp"
#include "dicom/dicom_fd_stream.hpp"
#include "dicom/dicom_fields.hpp"
#include "dicom/dicom_header.hpp"
#include "dicom/dicom_json.hpp"
#include "dicom/dicom_reader.hpp"
#include "dicom/dicom_text.hpp"

namespace metafs::extract {
namespace {

// DCMTK is thread-safe for separate objects (its data dictionary is behind a read-write lock
// and every extraction owns its DcmFileFormat, stream and character-set converters), so
// extractions run in parallel without a lock of our own.
class DicomExtractor final : public Extractor {
 public:
  DicomExtractor() {
    static std::once_flag configured;
    std::call_once(configured, [] {
      // Parse warnings go to `error` (or nowhere), not to the daemon's stderr.
      OFLog::getLogger("dcmtk").setLogLevel(OFLogger::OFF_LOG_LEVEL);
      // Elements stored as UN whose VR the (private) dictionary knows are shown as values
      // ("T1TFE"), not hex bytes, like dcmdump +uc. Process-wide; only DICOM uses DCMTK.
      dcmEnableUnknownVRConversion.set(OFTrue);
      // A dataset stored in another (uncompressed) transfer syntax than its meta header names
      // is read in the one it really has, as pydicom does; the reader says so in `error`.
      dcmAutoDetectDatasetXfer.set(OFTrue);
    });
    // Here, not on first use: a worker constructs its extractors before its sandbox closes
    // (the dictionary files DCMTK loads first are read then), once per process.
    dicom::add_private_dictionary();
    dicom::keep_character_set_modules();
  }

  Format format() const override { return Format::kDicom; }
  // 2: every number of OF/OD/OL/OV; values split before escaping; encapsulated icons; a
  // dataset read in its real transfer syntax. 3: pydicom's private dictionary; odd lengths
  // without DCMTK's pad byte; OF/OD as the shortest text.
  std::uint32_t schema_version() const override { return 3; }

  void extract(const SourceFile& file, Extraction& out) const override {
    dicom::DicomHeaders headers;
    dicom::read_headers(file.fd(), headers);
    dicom::DecodedValues decoded;
    dicom::add_fields(headers, out.tree, decoded);
    out.extra_files.emplace_back("dicom.json", dicom::render_dicom_json(headers, decoded));
    out.header = dicom::render_header(headers);  // last: converts the values in place
    if (!headers.error.empty()) {
      throw ExtractError("DICOM parse error: " + headers.error);
    }
  }
};

}  // namespace

std::unique_ptr<Extractor> make_dicom_extractor() {
  return std::make_unique<DicomExtractor>();
}

std::string dicom_library_version() {
  return OFFIS_DCMTK_VERSION_STRING;
}

}  // namespace metafs::extract
