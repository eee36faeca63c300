#pragma once

#include <hdf5.h>

#include "hdf5_model.hpp"

namespace metafs::extract::hdf5 {

// Reads the elements of the attribute `attr` (its type and dataspace given), at most
// limits.max_full_values in full or limits.summary_values of a bigger array. Never throws;
// what cannot be read is said in Data::problem.
Data read_attribute_data(hid_t attr, hid_t file_type, hid_t space, const Limits& limits);

// Approximate heap bytes held by `data`, for the file's value budget.
std::size_t data_bytes(const Data& data);

// The fill value of a dataset of type `file_type` with creation properties `dcpl`; absent for
// types whose fill value would need the library to allocate (variable-length, references).
std::optional<Data> read_fill_value(hid_t dcpl, hid_t file_type, const Limits& limits);

}  // namespace metafs::extract::hdf5
