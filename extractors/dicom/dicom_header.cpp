#include "dicom/dicom_header.hpp"

#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dctypes.h>

#include <cstdio>
#include <sstream>

#include "byte_scan.hpp"
#include "dicom/dicom_header_printer.hpp"
#include "dicom/dicom_names.hpp"
#include "dicom/dicom_text.hpp"

namespace metafs::extract::dicom {
namespace {

// DCMTK's layout of one element line: "(gggg,eeee) VR value", padded to column 56,
// "# length, VM keyword".
std::string stop_element_line(const StopElement& stop) {
  bool undefined = stop.length == StopElement::kUndefinedLength;
  std::string vr = stop.vr.empty() ? (undefined ? "OB" : "OW") : stop.vr;
  char tag[16];
  std::snprintf(tag, sizeof tag, "(%04x,%04x) ", stop.group, stop.element);
  std::string line = tag + vr + " " + (undefined ? "(PixelSequence, not read)" : "(not loaded)");
  if (line.size() < 56) line.resize(56, ' ');
  char length[32];
  if (undefined) {
    std::snprintf(length, sizeof length, "# u/l, 1 ");
  } else {
    std::snprintf(length, sizeof length, "# %3u, 1 ", stop.length);
  }
  line += length;
  DcmTagKey key(stop.group, stop.element);
  std::string name = field_name(key);
  line += name == tag_with_comma(key) ? "Unknown Tag & Data" : name;
  return line + "\n";
}

}  // namespace

std::string render_header(DicomHeaders& headers) {
  // Like dcmdump +U8; values that cannot be converted stay as they are (escaped below).
  (void)headers.file.convertToUTF8();
  std::string text;
  text.reserve(16 * 1024);  // most files' header.txt is a few KiB
  DcmMetaInfo* meta = headers.file.getMetaInfo();
  DcmDataset* dataset = headers.file.getDataset();
  if (meta != nullptr && dataset != nullptr) {
    print_file(*meta, *dataset, text);
  } else {
    std::ostringstream out;
    headers.file.print(out, DCMTypes::PF_shortenLongTagValues);
    text = out.str();
  }
  if (headers.stop) text += stop_element_line(*headers.stop);
  // Most headers are ASCII without a NUL: one pass says so, and both checks below are skipped.
  if (!any_byte(text, [](unsigned char byte) { return (byte >= 0x80) | (byte == 0); })) {
    return text;
  }
  if (!is_valid_utf8(text)) text = utf8_or_escaped(text);
  // header.txt is text: dcmdump prints a NUL padding byte (DS "-1024\0", written by some
  // scanners) as it is, and grep then calls the file binary. Escaped as metadata.txt does.
  if (std::size_t nul = text.find('\0'); nul != std::string::npos) {
    std::string escaped;
    escaped.reserve(text.size() + 16);
    std::size_t plain = 0;
    for (; nul != std::string::npos; plain = nul + 1, nul = text.find('\0', plain)) {
      escaped.append(text, plain, nul - plain).append("\\x00");
    }
    escaped.append(text, plain);
    text = std::move(escaped);
  }
  return text;
}

}  // namespace metafs::extract::dicom
