#include "dicom/dicom_reader.hpp"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "dicom/dicom_fd_stream.hpp"
#include "dicom/dicom_truncation.hpp"
#include "dicom/dicom_value.hpp"

namespace metafs::extract::dicom {
namespace {

std::uint16_t u16(const unsigned char* p, bool big) {
  return big ? static_cast<std::uint16_t>(p[0] << 8 | p[1])
             : static_cast<std::uint16_t>(p[1] << 8 | p[0]);
}

std::uint32_t u32(const unsigned char* p, bool big) {
  return big ? (std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 |
                p[3])
             : (std::uint32_t{p[3]} << 24 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[1]} << 8 |
                p[0]);
}

bool is_upper(unsigned char c) {
  return c >= 'A' && c <= 'Z';
}

// DCMTK has consumed the stop element's tag and length (it ends at `end`): reads those bytes
// again to describe the element. Works for uncompressed transfer syntaxes only.
std::optional<StopElement> locate_stop_element(const DescriptorFile& file, std::uint64_t end,
                                               bool big_endian) {
  if (end < 12) return std::nullopt;
  std::array<unsigned char, 12> b{};
  ssize_t got = ::pread(file.fd.get(), b.data(), b.size(), static_cast<off_t>(end - b.size()));
  if (got != static_cast<ssize_t>(b.size())) return std::nullopt;
  auto plausible = [](std::uint16_t group) { return group >= 0x7FE0; };
  StopElement stop;
  stop.value_offset = end;
  // Explicit VR with a 4-byte length: tag, VR, 2 reserved bytes, length.
  if (plausible(u16(b.data(), big_endian)) && is_upper(b[4]) && is_upper(b[5]) && b[6] == 0 &&
      b[7] == 0) {
    stop.group = u16(b.data(), big_endian);
    stop.element = u16(b.data() + 2, big_endian);
    stop.vr.assign(reinterpret_cast<const char*>(b.data() + 4), 2);
    stop.length = u32(b.data() + 8, big_endian);
    return stop;
  }
  // Explicit VR with a 2-byte length: tag, VR, length.
  if (plausible(u16(b.data() + 4, big_endian)) && is_upper(b[8]) && is_upper(b[9])) {
    stop.group = u16(b.data() + 4, big_endian);
    stop.element = u16(b.data() + 6, big_endian);
    stop.vr.assign(reinterpret_cast<const char*>(b.data() + 8), 2);
    stop.length = u16(b.data() + 10, big_endian);
    return stop;
  }
  // Implicit VR: tag, length.
  if (plausible(u16(b.data() + 4, big_endian))) {
    stop.group = u16(b.data() + 4, big_endian);
    stop.element = u16(b.data() + 6, big_endian);
    stop.length = u32(b.data() + 8, big_endian);
    return stop;
  }
  return std::nullopt;
}

// The meta header names one uncompressed transfer syntax and the dataset was found in another
// (dcmAutoDetectDatasetXfer read it as it is): a known defect, said in `error`.
std::string transfer_syntax_mismatch(DcmFileFormat& file) {
  DcmMetaInfo* meta = file.getMetaInfo();
  DcmDataset* dataset = file.getDataset();
  OFString uid;
  if (meta == nullptr || dataset == nullptr ||
      meta->findAndGetOFString(DCM_TransferSyntaxUID, uid).bad()) {
    return {};
  }
  DcmXfer stated(uid.c_str());
  DcmXfer found(dataset->getOriginalXfer());
  bool native = stated.getXfer() == EXS_LittleEndianImplicit ||
                stated.getXfer() == EXS_LittleEndianExplicit ||
                stated.getXfer() == EXS_BigEndianExplicit;
  bool implicit_after_encapsulated =
      stated.isEncapsulated() && found.getXfer() == EXS_LittleEndianImplicit;
  if (!(native || implicit_after_encapsulated) || found.getXfer() == EXS_Unknown ||
      found.getXfer() == stated.getXfer()) {
    return {};
  }
  return std::string("the file meta header says ") + stated.getXferName() + " but the dataset is " +
         found.getXferName() + " (read as it is)";
}

// Whether an implicit VR element can start at `offset`: a dataset tag (group 0008 or later,
// not an item tag), no explicit VR after it, a length that fits in the file.
bool implicit_element_at(const DescriptorFile& in, std::uint64_t offset, std::uint64_t size,
                         std::uint32_t* length) {
  std::array<unsigned char, 8> b{};
  if (offset + b.size() > size ||
      ::pread(in.fd.get(), b.data(), b.size(), static_cast<off_t>(offset)) !=
          static_cast<ssize_t>(b.size())) {
    return false;
  }
  std::uint16_t group = u16(b.data(), false);
  *length = u32(b.data() + 4, false);
  return group >= 0x0008 && group < 0xFFFE && !(is_upper(b[4]) && is_upper(b[5])) &&
         *length <= size - offset - b.size();
}

// Where the dataset of a file with preamble and meta header starts when its meta header names
// an encapsulated transfer syntax (explicit VR little endian, always) but the dataset is
// implicit VR: a known defect pydicom reads, which DCMTK's detection
// (dcmAutoDetectDatasetXfer) leaves to uncompressed syntaxes. 0: not such a file. The first
// two elements must look implicit (defined lengths).
std::uint64_t implicit_dataset_after_encapsulated_meta(DcmFileFormat& file,
                                                       const DescriptorFile& in) {
  DcmMetaInfo* meta = file.getMetaInfo();
  OFString uid;
  if (meta == nullptr || meta->findAndGetOFString(DCM_TransferSyntaxUID, uid).bad() ||
      !DcmXfer(uid.c_str()).isEncapsulated()) {
    return 0;
  }
  std::array<unsigned char, 4> magic{};
  struct stat st {};
  if (::pread(in.fd.get(), magic.data(), magic.size(), 128) != 4 ||
      std::memcmp(magic.data(), "DICM", 4) != 0 || ::fstat(in.fd.get(), &st) != 0) {
    return 0;
  }
  // The meta header's elements as DCMTK read them (its group length may be wrong).
  std::uint64_t offset = 132 + std::uint64_t{meta->getLength(EXS_LittleEndianExplicit)};
  auto size = static_cast<std::uint64_t>(st.st_size);
  std::uint32_t first = 0, second = 0;
  if (!implicit_element_at(in, offset, size, &first) || first == 0xFFFFFFFF ||
      !implicit_element_at(in, offset + 8 + first, size, &second)) {
    return 0;
  }
  return offset;
}

}  // namespace

void read_headers(int fd, DicomHeaders& out) {
  std::shared_ptr<DescriptorFile> file = share_descriptor(fd);
  if (!file) {
    out.error = std::string("cannot open: ") + std::strerror(errno);
    return;
  }
  DescriptorInputStream stream(file, 0);
  OFCondition status = stream.status();
  // What DcmFileFormat::loadFileUntilTag does, with our own stream so that we learn where
  // reading stopped.
  out.file.transferInit();
  status = out.file.readUntilTag(stream, EXS_Unknown, EGL_noChange,
                                 static_cast<Uint32>(kMaxReadLength), DCM_PixelData);
  out.file.transferEnd();
  std::unique_ptr<DescriptorInputStream> reread;
  std::uint64_t offset = implicit_dataset_after_encapsulated_meta(out.file, *file);
  if (offset != 0) {
    DcmDataset* dataset = out.file.getDataset();
    dataset->clear();
    file->last_missing = 0;
    reread = std::make_unique<DescriptorInputStream>(file, offset);
    dataset->transferInit();
    status = dataset->readUntilTag(*reread, EXS_LittleEndianImplicit, EGL_noChange,
                                   static_cast<Uint32>(kMaxReadLength), DCM_PixelData);
    dataset->transferEnd();
  }
  DescriptorInputStream& read = reread ? *reread : stream;
  std::string truncated;
  if (status.bad() || file->last_missing != 0) truncated = trim_truncated_value(out.file, *file);
  out.objects = unpad_odd_lengths(out.file);
  if (status.bad()) {
    out.error = truncated.empty() ? status.text() : truncated;
    return;
  }
  if (!truncated.empty()) {
    out.error = truncated;
    return;
  }
  out.error = transfer_syntax_mismatch(out.file);
  if (read.eos()) return;
  out.stopped = true;
  DcmDataset* dataset = out.file.getDataset();
  if (dataset == nullptr) return;
  DcmXfer xfer(dataset->getOriginalXfer());
  if (xfer.getStreamCompression() != ESC_none) return;  // offsets are not file offsets
  out.stop = locate_stop_element(*file, offset + static_cast<std::uint64_t>(read.tell()),
                                 xfer.getByteOrder() == EBO_BigEndian);
  // Item and delimitation tags belong inside sequences: at the top level they mean the
  // dataset is damaged (DCMTK only stops there because they sort after Pixel Data).
  if (out.stop && out.stop->group == 0xFFFE) {
    char text[80];
    std::snprintf(text, sizeof text, "Invalid tag (%04X,%04X) in the dataset", out.stop->group,
                  out.stop->element);
    out.error = text;
    out.stop.reset();
    out.stopped = false;
  }
}

}  // namespace metafs::extract::dicom
