#pragma once

#include <netcdf.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

// Spellings of names and values in CDL exactly as ncdump 4.9 prints them (C locale).
namespace metafs::extract::nc {

// A value of type T from unaligned attribute or data bytes.
template <typename T>
T load(const unsigned char* p) {
  T value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

// A name with CDL's special characters escaped (ncdump's escaped_name): a leading digit and
// CDL punctuation get a backslash, control characters become \%xx.
std::string cdl_name(std::string_view name);

// Whether ncdump writes a space between this variable name and the ':' of its attributes
// (`data :units`): the CDL keywords in ncdump 4.9.0's list.
bool is_cdl_keyword(std::string_view name);

// "byte", "char", ... "string" for an atomic type; "" otherwise.
std::string_view atomic_type_name(nc_type type);

// Size in memory of one value of an atomic type (a char* for NC_STRING); 0 otherwise.
std::size_t atomic_type_size(nc_type type);

// A text attribute's value in quotes, trailing NULs dropped. Outside netCDF-4 files an
// embedded newline also breaks the CDL line, as ncdump does.
void append_att_text(std::string& out, std::string_view text, bool netcdf4);

// One attribute value of an atomic numeric type with its CDL type suffix ("1.5f", "3s").
void append_att_number(std::string& out, nc_type type, const unsigned char* value);

// One value of an atomic type in CDL data syntax (no suffix; floats "%.7g", doubles
// "%.15g"), as ncdump prints values inside compound and vlen attributes.
void append_data_value(std::string& out, nc_type type, const unsigned char* value);

// Characters in quotes as ncdump prints char members of compound values.
void append_data_chars(std::string& out, const char* chars, std::size_t len);

// Opaque bytes as "0X" and upper-case hex digits.
void append_opaque_hex(std::string& out, const unsigned char* bytes, std::size_t size);

}  // namespace metafs::extract::nc
