#pragma once

#include <string>

namespace metafs::extract::nc {

// netCDF-C 4.9 crashes on some corrupt classic (CDF-1, CDF-2, CDF-5) headers, e.g. a
// negative variable count or a bogus rank. This walks such a header with every count
// checked against the bytes that remain, reading only the header.
//
// Returns "" when `fd` is not a classic file or its header is consistent; otherwise a
// one-line reason ("corrupt classic header: ...") and the library must not see the file.
std::string check_classic_header(int fd);

}  // namespace metafs::extract::nc
