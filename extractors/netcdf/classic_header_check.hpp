#pragma once

#include <string>

namespace metafs::extract::nc {

// What a walk of a classic (CDF-1, CDF-2, CDF-5) header found.
struct ClassicHeaderCheck {
  // "" when `fd` is not a classic file or its header is consistent; otherwise a one-line
  // reason ("corrupt classic header: ...") and the library must not see the file.
  std::string damage;
  // When damaged: a consistent header holding the dimensions, attributes and variables read
  // completely before the damage, in the file's own bytes ("" when there are none).
  std::string salvaged;
};

// netCDF-C 4.9 crashes on some corrupt classic headers, e.g. a negative variable count or a
// bogus rank, and refuses a truncated one outright. This walks the header with every count
// checked against the bytes that remain, reading only the header.
ClassicHeaderCheck check_classic_header(int fd);

}  // namespace metafs::extract::nc
