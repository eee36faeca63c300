#pragma once

#include <hdf5.h>
#include <unistd.h>

#include <utility>

#include "source_file.hpp"

namespace metafs::extract::hdf5 {

// Owns one HDF5 identifier and closes it with the right H5*close call. Move-only.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  explicit operator bool() const { return valid(); }

  void reset() {
    if (id_ < 0) return;
    // Every identifier a Handle owns was handed out by the library (none is predefined), so
    // dropping its reference closes it as its own H5*close would (read-only files need no
    // flush), without first asking the library for its type.
    H5Idec_ref(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using Descriptor = FileDescriptor;

// An HDF5 file open through the descriptor driver and, when the file owns it, the descriptor
// it reads. The file always closes before its descriptor. Move-only.
struct OpenFile {
  Descriptor descriptor;  // declared first, destroyed last
  Handle file;

  OpenFile() = default;
  OpenFile(OpenFile&&) noexcept = default;
  OpenFile& operator=(OpenFile&& other) noexcept {
    if (this != &other) {
      reset();
      descriptor = std::move(other.descriptor);
      file = std::move(other.file);
    }
    return *this;
  }

  explicit operator bool() const { return file.valid(); }

  void reset() {
    file.reset();
    descriptor.reset();
  }
};

}  // namespace metafs::extract::hdf5
