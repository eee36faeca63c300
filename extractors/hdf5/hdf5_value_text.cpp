#include "hdf5_value_text.hpp"

namespace metafs::extract::hdf5 {
namespace {

void append_sequence_tail(std::string& out, std::uint64_t shown, std::uint64_t total) {
  if (total <= shown) return;
  if (shown != 0) out += kListSeparator;
  out += "... (" + std::to_string(total) + " values)";
}

}  // namespace

std::string element_text(const Value& value, const FileModel& file) {
  switch (value.kind) {
    case Value::Kind::kNumber:
    case Value::Kind::kString:
      return value.text;
    case Value::Kind::kReference: {
      if (value.address == 0 || value.address == kUndefinedAddress) return "(null reference)";
      auto found = file.paths.find(value.address);
      if (found != file.paths.end()) return found->second;
      return "(object at address " + std::to_string(value.address) + ")";
    }
    case Value::Kind::kCompound: {
      std::string out = "{";
      for (std::size_t i = 0; i < value.items.size(); ++i) {
        if (i != 0) out += kListSeparator;
        if (i < value.names.size()) out += value.names[i] + ": ";
        out += element_text(value.items[i], file);
      }
      return out + "}";
    }
    case Value::Kind::kSequence: {
      std::string out = "[";
      for (std::size_t i = 0; i < value.items.size(); ++i) {
        if (i != 0) out += kListSeparator;
        out += element_text(value.items[i], file);
      }
      append_sequence_tail(out, value.items.size(), value.total);
      return out + "]";
    }
  }
  return {};
}

DataText data_text(const Data& data, const Dataspace& space, const FileModel& file,
                   const Limits& limits) {
  DataText out;
  if (space.cls == Dataspace::Class::kSimple && data.count == 0 && data.problem.empty()) {
    out.is_list = true;  // no elements: an empty list, not a null dataspace's empty value
    return out;
  }
  if (data.values.empty()) {
    out.text = data.problem;
    return out;
  }
  bool numbers = true;
  for (const auto& value : data.values) numbers = numbers && value.kind == Value::Kind::kNumber;
  if (space.cls != Dataspace::Class::kSimple && data.values.size() == 1) {
    out.text = element_text(data.values.front(), file);
    out.kind = numbers ? ValueKind::kNumber : ValueKind::kString;
    return out;
  }
  if (data.count > data.values.size() || data.count > limits.max_full_values) {
    for (std::size_t i = 0; i < data.values.size(); ++i) {
      if (i != 0) out.text += kListSeparator;
      out.text += element_text(data.values[i], file);
    }
    append_sequence_tail(out.text, data.values.size(), data.count);
    return out;
  }
  out.is_list = true;
  out.kind = numbers ? ValueKind::kNumber : ValueKind::kString;
  out.items.reserve(data.values.size());
  for (const auto& value : data.values) out.items.push_back(element_text(value, file));
  return out;
}

}  // namespace metafs::extract::hdf5
