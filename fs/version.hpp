#pragma once

namespace metafs {

inline constexpr const char* kVersion = "0.1.0";

}  // namespace metafs
