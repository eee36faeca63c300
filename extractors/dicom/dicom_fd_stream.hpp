#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcistrma.h>

#include <cstdint>
#include <memory>

#include "source_file.hpp"

namespace metafs::extract::dicom {

// The file DCMTK reads: a private duplicate of the caller's descriptor (so that values DCMTK
// loads later, through a stream factory, need nothing from the caller) and its size when
// the read began. Shared by the stream and every factory of it.
struct DescriptorFile {
  FileDescriptor fd;
  std::uint64_t size = 0;
  // How many bytes the last read that reached the end of the file lacked (0: none did).
  // DCMTK reads a whole value in one call into a buffer of its declared length, so a value
  // cut off by the end of the file is the one whose unread bytes equal this.
  std::uint64_t last_missing = 0;
};

// Opens DCMTK's input over a descriptor: reads with pread() at its own offsets, never
// through the descriptor's file offset (which is not ours), never by path. Returns nullptr
// and sets errno when the descriptor cannot be duplicated or stat'ed.
std::shared_ptr<DescriptorFile> share_descriptor(int fd);

// DCMTK's input stream over a DescriptorFile from `offset`. newFactory() gives factories
// that open further streams over the same file, so DCMTK's deferred loading of large values
// works without a path, for as long as any DcmElement holds such a factory.
//
// read() never leaves the caller's buffer partly uninitialised: when the file ends first, the
// rest of the buffer is zeroed and `last_missing` set. DCMTK allocates a value of the length its
// header declares and reads into it what the file holds; without this, a value cut off by the
// end of the file would carry whatever the allocator handed out (earlier files' text).
namespace detail {
// Constructed before DcmInputStream, which is handed the producer in its constructor.
struct ProducerHolder {
  std::unique_ptr<DcmProducer> producer;
};
}  // namespace detail

class DescriptorInputStream final : private detail::ProducerHolder, public DcmInputStream {
 public:
  DescriptorInputStream(std::shared_ptr<DescriptorFile> file, std::uint64_t offset);
  ~DescriptorInputStream() override;
  DescriptorInputStream(const DescriptorInputStream&) = delete;
  DescriptorInputStream& operator=(const DescriptorInputStream&) = delete;

  offile_off_t read(void* buf, offile_off_t buflen) override;
  DcmInputStreamFactory* newFactory() const override;

 private:
  std::shared_ptr<DescriptorFile> file_;
  std::uint64_t start_;
};

}  // namespace metafs::extract::dicom
