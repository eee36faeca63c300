#include "dicom/dicom_header_printer.hpp"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcdirrec.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "dicom/dicom_item.hpp"

namespace metafs::extract::dicom {
namespace {

// DCMTK's layout (dcobject.h): values padded to DCM_OptPrintValueLength, shortened to
// DCM_OptPrintLineLength with "...".
constexpr std::size_t kValueColumn = DCM_OptPrintValueLength;
constexpr std::size_t kLineLength = DCM_OptPrintLineLength;
constexpr std::size_t kMaxRemembered = 8192;
// Lines nested up to this level are indented from a buffer on the stack.
constexpr std::size_t kMaxIndentedLevel = 32;

// DcmTag::getTagName() looks the dictionary up (under its lock) once per element, and a
// private tag's look-up walks the long lists of pydicom's private dictionary. A name depends
// on the tag and, for a private one, its creator only: each thread remembers the names, by
// number for a tag without a creator (most of them; no key to build), else by number and
// creator (the const_cast: DcmObject's own getTagName(), which print() uses, is not public;
// DCMTK keeps the name in the element's tag). The pointer lives until the next call.
const char* tag_name(DcmObject& object) {
  DcmTag& tag = const_cast<DcmTag&>(object.getTag());
  std::uint32_t number = std::uint32_t{tag.getGroup()} << 16 | tag.getElement();
  const char* creator = tag.getPrivateCreator();
  if (creator == nullptr) {
    thread_local std::unordered_map<std::uint32_t, std::string> names;
    auto found = names.find(number);
    if (found != names.end()) return found->second.c_str();
    if (names.size() >= kMaxRemembered) names.clear();
    return names.emplace(number, tag.getTagName()).first->second.c_str();
  }
  thread_local std::unordered_map<std::string, std::string> names;
  std::string key(sizeof number, '\0');
  std::memcpy(key.data(), &number, sizeof number);
  key += creator;
  auto found = names.find(key);
  if (found != names.end()) return found->second.c_str();
  if (names.size() >= kMaxRemembered) names.clear();
  return names.emplace(std::move(key), tag.getTagName()).first->second.c_str();
}

// dcmFindNameOfUID searches DCMTK's table of well-known UIDs linearly; the same SOP classes
// and transfer syntaxes come back in every file, so each thread remembers the answers.
const char* uid_name(const char* uid) {
  thread_local std::unordered_map<std::string, const char*> names;
  auto found = names.find(uid);
  if (found != names.end()) return found->second;
  if (names.size() >= kMaxRemembered) names.clear();
  return names.emplace(uid, dcmFindNameOfUID(uid)).first->second;
}

void append_number(std::string& out, unsigned long number) {
  char buffer[24];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, number).ptr);
}

// A delimitation item DCMTK prints after each item and sequence (it is not in the dataset).
struct Delimiter {
  DcmTagKey key;
  std::string vr;
  std::string name;

  explicit Delimiter(const DcmTagKey& tag) : key(tag) {
    DcmTag full(tag);
    vr = full.getVRName();
    name = full.getTagName();
  }
};

class HeaderPrinter {
 public:
  explicit HeaderPrinter(std::string& out) : out_(out) {}

  // DcmMetaInfo::print, at the level DcmFileFormat::print gives it.
  void meta_header(DcmMetaInfo& meta) {
    out_ += "\n# Dicom-Meta-Information-Header\n# Used TransferSyntax: ";
    out_ += DcmXfer(meta.getOriginalXfer()).getXferName();
    out_ += '\n';
    elements(meta, 1);
  }

  void dataset(DcmDataset& dataset) {
    out_ += "\n# Dicom-Data-Set\n# Used TransferSyntax: ";
    out_ += DcmXfer(dataset.getCurrentXfer()).getXferName();
    out_ += '\n';
    elements(dataset, 1);
  }

 private:
  void elements(DcmItem& item, int level) {
    for (DcmObject* object = item.nextInContainer(nullptr); object != nullptr;
         object = item.nextInContainer(object)) {
      element(*object, level);
    }
  }

  void element(DcmObject& object, int level) {
    switch (object.ident()) {
      case EVR_SQ:
        return sequence(static_cast<DcmSequenceOfItems&>(object), level);
      case EVR_AE:
      case EVR_AS:
      case EVR_CS:
      case EVR_DA:
      case EVR_DS:
      case EVR_DT:
      case EVR_IS:
      case EVR_LO:
      case EVR_LT:
      case EVR_PN:
      case EVR_SH:
      case EVR_ST:
      case EVR_TM:
      case EVR_UC:
      case EVR_UR:
      case EVR_UT:
        return byte_string(static_cast<DcmElement&>(object), level);
      case EVR_UI:
        return uid(static_cast<DcmElement&>(object), level);
      case EVR_US:
        return integers<Uint16>(static_cast<DcmElement&>(object), level,
                                &DcmElement::getUint16Array);
      case EVR_SS:
        return integers<Sint16>(static_cast<DcmElement&>(object), level,
                                &DcmElement::getSint16Array);
      case EVR_UL:
      case EVR_up:
        return integers<Uint32>(static_cast<DcmElement&>(object), level,
                                &DcmElement::getUint32Array);
      case EVR_SL:
        return integers<Sint32>(static_cast<DcmElement&>(object), level,
                                &DcmElement::getSint32Array);
      default:
        return with_dcmtk(object, level);
    }
  }

  // DcmSequenceOfItems::print and DcmItem::print.
  void sequence(DcmSequenceOfItems& sequence, int level) {
    unsigned long count = sequence.card();
    bool undefined = sequence.getLengthField() == DCM_UndefinedLength;
    info_line(sequence, level, structure("(Sequence with ", undefined, count));
    for (DcmItem* item = next_item(sequence, nullptr); item != nullptr;
         item = next_item(sequence, item)) {
      if (item->ident() == EVR_dirRecord) {
        record(static_cast<DcmDirectoryRecord&>(*item), level + 1);
      } else if (item->ident() == EVR_item) {
        bool item_undefined = item->getLengthField() == DCM_UndefinedLength;
        info_line(*item, level + 1, structure("(Item with ", item_undefined, item->card()));
        elements(*item, level + 2);
        delimiter_line(
            item_end(), level + 1,
            item_undefined ? "(ItemDelimitationItem)" : "(ItemDelimitationItem for re-encoding)");
      } else {
        with_dcmtk(*item, level + 1);
      }
    }
    static const Delimiter kSequenceEnd(DCM_SequenceDelimitationItem);
    delimiter_line(
        kSequenceEnd, level,
        undefined ? "(SequenceDelimitationItem)" : "(SequenceDelimitationItem for re-encod.)");
  }

  static const Delimiter& item_end() {
    static const Delimiter kItemEnd(DCM_ItemDelimitationItem);
    return kItemEnd;
  }

  // DcmDirectoryRecord::print: a DICOMDIR record's type and file offset, then its elements.
  // Records of the common types are printed here (DCMTK names a type by its
  // DirectoryRecordType value when it knows it); others, records with lower-level records
  // or a multi-referenced file (MRDR) are left to DCMTK.
  void record(DcmDirectoryRecord& record, int level) {
    const char* type = nullptr;
    if (record.getRecordType() == ERT_Private || record.getRecordType() == ERT_Mrdr ||
        record.getReferencedMRDR() != nullptr || record.cardSub() > 0 ||
        record.findAndGetString(DCM_DirectoryRecordType, type).bad() || type == nullptr ||
        !is_common_record_type(type)) {
      return with_dcmtk(record, level);
    }
    std::string text = "\"Directory Record\" ";
    text += type;
    text += " #=";
    append_number(text, record.card());
    info_line(record, level, text);
    for (int i = 1; i < level; ++i) out_ += "  ";
    out_ += "#  offset=$";
    append_number(out_, record.getFileOffset());
    // DcmDirectoryRecord::lookForReferencedFileID: a CS value only, verified with
    // autocorrection first (which changes what its own line shows), up to a NUL.
    DcmElement* file = nullptr;
    if (record.findAndGetElement(DCM_ReferencedFileID, file, OFFalse).good() && file != nullptr &&
        file->ident() == EVR_CS) {
      file->verify(OFTrue);
      char* name = nullptr;
      file->getString(name);
      if (name != nullptr && *name != '\0') {
        out_ += "  refFileID=\"";
        out_ += name;
        out_ += '"';
      }
    }
    out_ += '\n';
    elements(record, level + 1);
    delimiter_line(item_end(), level,
                   record.getLengthField() == DCM_UndefinedLength
                       ? "\"ItemDelimitationItem\""
                       : "\"ItemDelimitationItem for re-encoding\"");
  }

  static bool is_common_record_type(std::string_view type) {
    return type == "PATIENT" || type == "STUDY" || type == "SERIES" || type == "IMAGE";
  }

  static std::string structure(const char* what, bool undefined, unsigned long count) {
    std::string text = what;
    text += undefined ? "undefined" : "explicit";
    text += " length #=";
    append_number(text, count);
    text += ')';
    return text;
  }

  // DcmByteString::print: the value in brackets, cut to the line length.
  void byte_string(DcmElement& element, int level) {
    if (!element.valueLoaded()) return info_line(element, level, "(not loaded)");
    char* data = nullptr;
    Uint32 size = 0;
    element.getString(data, size);
    if (data == nullptr || size == 0) return info_line(element, level, "(no value available)");
    line_start(element, level);
    std::string_view value(data, std::min<std::size_t>(size, kLineLength));
    std::size_t printed = value.size() + 2;
    out_ += '[';
    if (printed > kLineLength) {
      out_ += value.substr(0, kLineLength - 4);
      out_ += "...";
      printed = kLineLength;
    } else {
      out_ += value;
      out_ += ']';
    }
    line_end(element, printed);
  }

  // DcmUniqueIdentifier::print: a well-known UID as "=Name".
  void uid(DcmElement& element, int level) {
    if (!element.valueLoaded()) return byte_string(element, level);
    char* data = nullptr;
    element.getString(data);
    if (data == nullptr) return info_line(element, level, "(no value available)");
    const char* name = uid_name(data);
    if (name == nullptr || *name == '\0') return byte_string(element, level);
    info_line(element, level, std::string("=") + name);
  }

  // DcmUnsignedShort::print and its siblings: values joined by '\', as many whole values as
  // fit in the line, then "...".
  template <typename T>
  void integers(DcmElement& element, int level, OFCondition (DcmElement::*get)(T*&)) {
    if (!element.valueLoaded()) return info_line(element, level, "(not loaded)");
    T* values = nullptr;
    (element.*get)(values);
    if (values == nullptr) return info_line(element, level, "(no value available)");
    unsigned long count = element.getNumberOfValues();
    if (count == 0) return info_line(element, level, "(invalid value)");
    line_start(element, level);
    std::size_t printed = 0;
    for (unsigned long i = 0; i < count; ++i) {
      char buffer[32];
      char* end = buffer;
      if (i > 0) *end++ = '\\';
      end = std::to_chars(end, buffer + sizeof buffer, values[i]).ptr;
      std::size_t next = printed + static_cast<std::size_t>(end - buffer);
      if (next <= kLineLength && (i + 1 == count || next + 3 <= kLineLength)) {
        out_.append(buffer, end);
        printed = next;
      } else {
        if (i + 1 < count) {
          out_ += "...";
          printed += 3;
        }
        break;
      }
    }
    line_end(element, printed);
  }

  // Anything else: DCMTK prints it (at the same nesting level, into one reused stream).
  void with_dcmtk(DcmObject& object, int level) {
    stream_.str(std::string());
    stream_.clear();
    object.print(stream_, DCMTypes::PF_shortenLongTagValues, level, nullptr, nullptr);
    out_ += stream_.view();
  }

  // DcmObject::printInfoLineStart: indentation, "(gggg,eeee) VR ", in one append.
  void line_start(const DcmTagKey& key, const char* vr, int level) {
    static constexpr char kHex[] = "0123456789abcdef";
    char line[2 * kMaxIndentedLevel + 16];
    std::size_t indent = level > 1 ? 2 * static_cast<std::size_t>(level - 1) : 0;
    if (indent > 2 * kMaxIndentedLevel) {
      out_.append(indent, ' ');
      indent = 0;
    }
    std::memset(line, ' ', indent);
    char* tag = line + indent;
    std::memcpy(tag, "(gggg,eeee) ", 12);
    for (int i = 0; i < 4; ++i) {
      tag[4 - i] = kHex[(key.getGroup() >> (4 * i)) & 0xF];
      tag[9 - i] = kHex[(key.getElement() >> (4 * i)) & 0xF];
    }
    std::size_t size = indent + 12;
    std::size_t vr_size = std::strlen(vr);
    if (vr_size > 2) {
      out_.append(line, size);
      out_ += vr;
      out_ += ' ';
      return;
    }
    std::memcpy(line + size, vr, vr_size);
    size += vr_size;
    line[size++] = ' ';
    out_.append(line, size);
  }
  void line_start(DcmObject& object, int level) {
    line_start(object.getTag(), object.getTag().getVRName(), level);
  }

  // DcmObject::printInfoLineEnd: padding, "# length, VM name", the numbers as std::setw(3)
  // and std::setw(2) print them.
  void line_end(std::size_t printed, unsigned long length, unsigned long vm, const char* name) {
    char end[kValueColumn + 64];
    std::size_t size = printed < kValueColumn ? kValueColumn - printed : 0;
    std::memset(end, ' ', size);
    std::memcpy(end + size, " # ", 3);
    size += 3;
    if (length == DCM_UndefinedLength) {
      std::memcpy(end + size, "u/l", 3);
      size += 3;
    } else {
      size = right_aligned(end, size, length, 3);
    }
    end[size++] = ',';
    size = right_aligned(end, size, vm, 2);
    end[size++] = ' ';
    out_.append(end, size);
    out_ += name;
    out_ += '\n';
  }
  // `number` at end[size], padded on the left with spaces to `width`; the new size.
  static std::size_t right_aligned(char* end, std::size_t size, unsigned long number,
                                   std::size_t width) {
    char digits[24];
    auto count = static_cast<std::size_t>(
        std::to_chars(digits, digits + sizeof digits, number).ptr - digits);
    for (; count < width; --width) end[size++] = ' ';
    std::memcpy(end + size, digits, count);
    return size + count;
  }
  void line_end(DcmObject& object, std::size_t printed) {
    line_end(printed, object.getLengthField(), object.getVM(), tag_name(object));
  }

  // DcmObject::printInfoLine: a text in place of the value.
  std::size_t info(std::string_view text) {
    if (text.size() > kValueColumn && text.size() > kLineLength) {
      out_ += text.substr(0, kLineLength - 3);
      out_ += "...";
      return kLineLength;
    }
    out_ += text;
    return text.size();
  }
  void info_line(DcmObject& object, int level, std::string_view text) {
    line_start(object, level);
    line_end(object, info(text));
  }
  void delimiter_line(const Delimiter& delimiter, int level, std::string_view text) {
    line_start(delimiter.key, delimiter.vr.c_str(), level);
    line_end(info(text), 0, 0, delimiter.name.c_str());
  }

  std::string& out_;
  std::ostringstream stream_;
};

}  // namespace

void print_file(DcmMetaInfo& meta, DcmDataset& dataset, std::string& out) {
  out += "\n# Dicom-File-Format\n";
  HeaderPrinter printer(out);
  printer.meta_header(meta);
  printer.dataset(dataset);
}

}  // namespace metafs::extract::dicom
