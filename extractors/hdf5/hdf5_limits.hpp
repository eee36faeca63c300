#pragma once

#include <cstddef>

namespace metafs::extract::hdf5 {

// What one extraction may list; past a limit the reader stops and leaves a note.
struct Limits {
  std::size_t max_objects = 10'000;          // objects and links in the whole file
  std::size_t max_links_per_group = 10'000;  // links listed per group
  std::size_t max_attributes_per_object = 5'000;
  std::size_t max_attributes = 50'000;           // in the whole file
  std::size_t max_depth = 64;                    // group nesting
  std::size_t max_full_values = 256;             // arrays up to this size are shown in full
  std::size_t summary_values = 16;               // bigger ones show this many first values
  std::size_t max_value_bytes = 1 << 20;         // an attribute bigger than this is not read
  std::size_t max_string_bytes = 64 << 10;       // longer strings are cut with a note
  std::size_t max_elements_per_value = 4'096;    // decoded elements, all nesting levels
  std::size_t max_total_value_bytes = 32 << 20;  // attribute text of the whole file
  std::size_t max_type_depth = 16;               // nesting of compound/array/vlen types
};

}  // namespace metafs::extract::hdf5
