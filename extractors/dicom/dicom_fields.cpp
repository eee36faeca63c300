#include "dicom/dicom_fields.hpp"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>

#include <algorithm>
#include <memory>
#include <string>

#include "dicom/dicom_item.hpp"
#include "dicom/dicom_names.hpp"
#include "dicom/dicom_text.hpp"
#include "dicom/dicom_value.hpp"

namespace metafs::extract::dicom {
namespace {

class FieldBuilder {
 public:
  explicit FieldBuilder(MetaTree& tree) : tree_(tree) {}

  // Where the values decoded from now on are kept as well (the dataset's, for dicom.json).
  void keep_values_in(DecodedValues* decoded) { decoded_ = decoded; }

  void add_item(DcmItem& item, NodeId dir, const TextDecoder& inherited, int depth) {
    std::unique_ptr<TextDecoder> owned;
    const TextDecoder& decoder = item_decoder(item, inherited, owned);
    for (DcmObject* object = item.nextInContainer(nullptr); object != nullptr;
         object = item.nextInContainer(object)) {
      if (++count_ > kMaxElements) {
        truncated_ = true;
        return;
      }
      auto* element = static_cast<DcmElement*>(object);
      const std::string& name = field_name(element->getTag());  // used before the next call
      if (element->ident() == EVR_SQ) {
        add_sequence(static_cast<DcmSequenceOfItems&>(*element), tree_.add_dir(dir, name), decoder,
                     depth);
      } else {
        DecodedValue value = decode_value(*element, decoder);
        // DICOMDIR offsets are UL numbers, though DCMTK gives them a VR of its own.
        bool offset = element->ident() == EVR_up && value.shape == DecodedValue::Shape::kValues;
        add_decoded(dir, name, value, offset ? ValueKind::kNumber : value.kind);
        if (decoded_ != nullptr) decoded_->put(*element, std::move(value));
      }
    }
  }

  bool truncated() const { return truncated_; }

 private:
  void add_sequence(DcmSequenceOfItems& sequence, NodeId dir, const TextDecoder& decoder,
                    int depth) {
    if (depth + 1 > kMaxSequenceDepth) {
      tree_.add_value(dir, kTruncatedNote,
                      "items nested deeper than " + std::to_string(kMaxSequenceDepth) +
                          " sequences are not shown");
      return;
    }
    std::size_t index = 0;
    for (DcmItem* item = next_item(sequence, nullptr); item != nullptr && !truncated_;
         item = next_item(sequence, item)) {
      add_item(*item, tree_.add_dir(dir, std::to_string(index++)), decoder, depth + 1);
    }
  }

  void add_decoded(NodeId dir, const std::string& name, const DecodedValue& value, ValueKind kind) {
    if (value.shape == DecodedValue::Shape::kValues && value.items.size() > 1) {
      tree_.add_list(dir, name, value.items, kind, "\\");
    } else {
      tree_.add_value(dir, name, value.joined(), value.items.empty() ? ValueKind::kString : kind);
    }
  }

  MetaTree& tree_;
  DecodedValues* decoded_ = nullptr;
  std::size_t count_ = 0;
  bool truncated_ = false;
};

std::string hex_tag(std::uint16_t group, std::uint16_t element) {
  // Appended, not `"(" + std::string`: GCC 12 at -O3 warns (-Wrestrict) on that form.
  std::string text = "(";
  text += tag_with_comma(DcmTagKey(group, element));
  text += ')';
  return text;
}

void add_stop_element(const DicomHeaders& headers, MetaTree& tree) {
  const auto& stop = headers.stop;
  if (stop && stop->group == 0x7FE0 && stop->element == 0x0010) {
    tree.add_value(MetaTree::kRoot, "PixelData",
                   stop->length == StopElement::kUndefinedLength
                       ? std::string("<encapsulated, not read>")
                       : "<binary, " + std::to_string(stop->length) + " bytes>");
    return;
  }
  tree.add_value(MetaTree::kRoot, kNotReadNote,
                 stop ? std::string("elements from ")
                            .append(hex_tag(stop->group, stop->element))
                            .append(" on are not read")
                      : std::string("Pixel Data and the elements after it are not read"));
}

}  // namespace

void add_fields(DicomHeaders& headers, MetaTree& tree, DecodedValues& decoded) {
  FieldBuilder builder(tree);
  // Room for every element and item up front: the tree's nodes and the decoded values are
  // large, and growing them moved each into fresh memory again and again (a tenth of an
  // extraction's time went to cache misses on such moves and the frees behind them).
  std::size_t expected = std::min(headers.objects, kMaxElements) + 4;
  tree.reserve(tree.size() + expected);
  decoded.reserve(expected);
  TextDecoder ascii("");
  if (DcmMetaInfo* meta = headers.file.getMetaInfo()) {
    builder.add_item(*meta, MetaTree::kRoot, ascii, 0);
  }
  if (DcmDataset* dataset = headers.file.getDataset()) {
    builder.keep_values_in(&decoded);
    builder.add_item(*dataset, MetaTree::kRoot, ascii, 0);
  }
  if (builder.truncated()) {
    tree.add_value(MetaTree::kRoot, kTruncatedNote,
                   std::string("only the first ")
                       .append(std::to_string(kMaxElements))
                       .append(" elements are shown"));
  }
  if (headers.stopped) add_stop_element(headers, tree);
}

}  // namespace metafs::extract::dicom
