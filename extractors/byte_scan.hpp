#pragma once

#include <string_view>

namespace metafs::extract {

// Whether `test(byte)` holds for any byte of `text`, in one pass without a branch per byte,
// which the compiler vectorises: most values and names have nothing to escape and are then
// used whole.
template <typename Test>
bool any_byte(std::string_view text, Test test) {
  unsigned char found = 0;
  for (char c : text) found |= static_cast<unsigned char>(test(static_cast<unsigned char>(c)));
  return found != 0;
}

}  // namespace metafs::extract
