#pragma once

#include <string>
#include <vector>

#include "hdf5_model.hpp"
#include "meta_tree.hpp"

namespace metafs::extract::hdf5 {

// One element as its value file shows it: numbers in shortest round-trip form, strings as
// stored, references as the path of their target, compounds as {name: value, ...}, arrays and
// variable-length sequences as [a, b, ...] (a long one as [a, b, ..., ... (N values)]).
std::string element_text(const Value& value, const FileModel& file);

// How a whole attribute or fill value is shown: one value, a list, or a summary string.
struct DataText {
  std::string text;                // the value file's content when items is empty
  std::vector<std::string> items;  // a list, shown joined by ", "
  ValueKind kind = ValueKind::kString;
  bool is_list = false;
};
DataText data_text(const Data& data, const Dataspace& space, const FileModel& file,
                   const Limits& limits);

// The separator of multi-valued fields.
inline constexpr char kListSeparator[] = ", ";

}  // namespace metafs::extract::hdf5
