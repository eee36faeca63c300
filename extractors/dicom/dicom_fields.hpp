#pragma once

#include "dicom/dicom_reader.hpp"
#include "dicom/dicom_value.hpp"
#include "meta_tree.hpp"

namespace metafs::extract::dicom {

// Sequence nesting deeper than this is not shown (a note says so).
inline constexpr int kMaxSequenceDepth = 64;
// At most this many elements are shown per file (a note says so).
inline constexpr std::size_t kMaxElements = 200000;
// Names of the notes; no DICOM keyword or "GGGG,EEEE" name starts with '_'.
inline constexpr const char* kTruncatedNote = "_truncated";
inline constexpr const char* kNotReadNote = "_not_read";

// Fills `tree` (fields/) with the meta header and dataset elements of `headers`: keywords or
// "GGGG,EEEE" names, sequences as <name>/<item index from 0>/..., values decoded to UTF-8.
// The dataset's values are also put in `decoded`, in walk order, for dicom.json.
void add_fields(DicomHeaders& headers, MetaTree& tree, DecodedValues& decoded);

}  // namespace metafs::extract::dicom
