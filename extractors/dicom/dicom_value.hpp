#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "meta_tree.hpp"

class DcmElement;

namespace metafs::extract::dicom {

class TextDecoder;

// Values larger than this stay in the file while parsing (DCMTK's max read length, as dcmdump).
inline constexpr std::size_t kMaxReadLength = 4096;
// Binary values up to this size are shown like dcmdump shows them (hex bytes or words);
// larger ones are summarised.
inline constexpr std::size_t kMaxShownBinaryBytes = 16;
// Text values larger than this are summarised instead of loaded.
inline constexpr std::size_t kMaxTextBytes = 1 << 20;
// Numeric values with more items than this are summarised.
inline constexpr std::size_t kMaxListItems = 1024;

// One element's value as the user sees it: padding removed, text in UTF-8, multi-valued
// elements split into their items.
struct DecodedValue {
  enum class Shape { kValues, kSummary };

  Shape shape = Shape::kValues;
  std::vector<std::string> items;  // kValues: no item for an empty value
  ValueKind kind = ValueKind::kString;
  std::string summary;    // kSummary: "<binary, 512 bytes>", never the bytes themselves
  std::string raw_bytes;  // small binary values (<= kMaxShownBinaryBytes): the bytes

  bool binary = false;  // OB, OW, UN, ...: a summary or hex dump, not a native value
  // The text a value file shows: the items joined with '\', or the summary.
  std::string joined() const;
};

// Decodes a non-sequence element. `decoder` is the one of the enclosing dataset/item.
// Never throws for bad values: undecodable bytes are escaped, unreadable values summarised.
DecodedValue decode_value(DcmElement& element, const TextDecoder& decoder);

// The decoded values of the dataset's elements in the order one walk met them, handed to a
// second walk over the same elements (fields/, then dicom.json) so that no value is decoded
// twice. A walk that parts from the first (a truncated one) decodes for itself.
class DecodedValues {
 public:
  // Room for `count` values, put in one block.
  void reserve(std::size_t count) { values_.reserve(count); }
  void put(DcmElement& element, DecodedValue&& value);
  // The value put for `element` next in order, else `element` decoded with `decoder`. Text
  // elements are measured again as decoding them again did (DCMTK's getLength() drops the
  // padding the first reading stripped, which header.txt's lengths show); one whose length
  // changed so is decoded again, as before. The value stays valid until the next take().
  const DecodedValue& take(DcmElement& element, const TextDecoder& decoder);

 private:
  struct Entry {
    const DcmElement* element;
    std::uint32_t length;  // the element's length after the first decoding
    DecodedValue value;
  };
  std::vector<Entry> values_;
  std::size_t next_ = 0;
  DecodedValue decoded_again_;  // take()'s value when the one put was not the element's
};

// Whether the VR of `element` is affected by Specific Character Set, and its ISO 2022
// delimiters.
const char* charset_delimiters(const DcmElement& element);

}  // namespace metafs::extract::dicom
