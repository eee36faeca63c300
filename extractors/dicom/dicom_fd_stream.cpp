#include "dicom/dicom_fd_stream.hpp"

#include <dcmtk/dcmdata/dcerror.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

namespace metafs::extract::dicom {

std::shared_ptr<DescriptorFile> share_descriptor(int fd) {
  FileDescriptor copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (copy.get() < 0) return nullptr;
  struct stat st {};
  if (::fstat(copy.get(), &st) != 0) return nullptr;
  auto file = std::make_shared<DescriptorFile>(DescriptorFile{std::move(copy), 0, 0});
  file->size = static_cast<std::uint64_t>(st.st_size);
  return file;
}

namespace {

// What DcmFileProducer does for a named file, with pread() at an offset of our own.
class DescriptorProducer final : public DcmProducer {
 public:
  DescriptorProducer(std::shared_ptr<DescriptorFile> file, std::uint64_t offset)
      : file_(std::move(file)), pos_(std::min(offset, file_->size)) {}

  OFBool good() const override { return status_.good(); }
  OFCondition status() const override { return status_; }
  OFBool eos() override { return pos_ >= file_->size; }
  offile_off_t avail() override {
    return status_.good() ? static_cast<offile_off_t>(file_->size - pos_) : 0;
  }

  // DCMTK asks for a few bytes at a time (a tag, a length, a short value): they come from a
  // buffer filled by one pread() of kBufferSize (a system call per element cost more than the
  // parsing). Requests at least as large as the buffer go straight to the caller's memory.
  offile_off_t read(void* buf, offile_off_t buflen) override {
    if (status_.bad() || buflen <= 0 || buf == nullptr) return 0;
    auto want = std::min<std::uint64_t>(static_cast<std::uint64_t>(buflen), file_->size - pos_);
    auto* out = static_cast<char*>(buf);
    std::uint64_t done = 0;
    while (done < want) {
      std::uint64_t at = pos_ + done;
      std::uint64_t left = want - done;
      if (at >= buffer_start_ && at - buffer_start_ < buffer_length_) {
        std::uint64_t n = std::min(left, buffer_length_ - (at - buffer_start_));
        std::memcpy(out + done, buffer_.get() + (at - buffer_start_), n);
        done += n;
        continue;
      }
      ssize_t got = 0;
      if (left >= kBufferSize) {
        got = read_at(out + done, left, at);
        if (got > 0) done += static_cast<std::uint64_t>(got);
      } else {
        if (!buffer_) buffer_ = std::make_unique<char[]>(kBufferSize);
        got = read_at(buffer_.get(), std::min<std::uint64_t>(kBufferSize, file_->size - at), at);
        buffer_start_ = at;
        buffer_length_ = got > 0 ? static_cast<std::uint64_t>(got) : 0;
      }
      if (got < 0) {
        status_ = makeOFCondition(OFM_dcmdata, 18, OF_error, std::strerror(errno));
        break;
      }
      if (got == 0) {
        // The file shrank since it was measured: it ends here.
        file_->size = at;
        break;
      }
    }
    pos_ += done;
    return static_cast<offile_off_t>(done);
  }

  offile_off_t skip(offile_off_t skiplen) override {
    if (status_.bad() || skiplen <= 0) return 0;
    auto n = std::min<std::uint64_t>(static_cast<std::uint64_t>(skiplen), file_->size - pos_);
    pos_ += n;
    return static_cast<offile_off_t>(n);
  }

  void putback(offile_off_t num) override {
    if (status_.bad() || num <= 0) return;
    if (static_cast<std::uint64_t>(num) > pos_) {
      status_ = EC_PutbackFailed;
      return;
    }
    pos_ -= static_cast<std::uint64_t>(num);
  }

 private:
  static constexpr std::uint64_t kBufferSize = 32 * 1024;

  // pread() of up to `length` bytes at `offset`, retried when interrupted.
  ssize_t read_at(char* out, std::uint64_t length, std::uint64_t offset) const {
    while (true) {
      ssize_t got = ::pread(file_->fd.get(), out, length, static_cast<off_t>(offset));
      if (got >= 0 || errno != EINTR) return got;
    }
  }

  std::shared_ptr<DescriptorFile> file_;
  std::uint64_t pos_;
  OFCondition status_ = EC_Normal;
  std::unique_ptr<char[]> buffer_;  // bytes [buffer_start_, + buffer_length_) of the file
  std::uint64_t buffer_start_ = 0;
  std::uint64_t buffer_length_ = 0;
};

class DescriptorStreamFactory final : public DcmInputStreamFactory {
 public:
  DescriptorStreamFactory(std::shared_ptr<DescriptorFile> file, std::uint64_t offset)
      : file_(std::move(file)), offset_(offset) {}

  DcmInputStream* create() const override { return new DescriptorInputStream(file_, offset_); }
  DcmInputStreamFactory* clone() const override {
    return new DescriptorStreamFactory(file_, offset_);
  }
  // The enum has no "other"; callers that downcast on DFT_DcmInputFileStreamFactory would
  // call its file-name accessors, the temporary-file kind has none.
  DcmInputStreamFactoryType ident() const override { return DFT_DcmInputTempFileStreamFactory; }

 private:
  std::shared_ptr<DescriptorFile> file_;
  std::uint64_t offset_;
};

}  // namespace

DescriptorInputStream::DescriptorInputStream(std::shared_ptr<DescriptorFile> file,
                                             std::uint64_t offset)
    : ProducerHolder{std::make_unique<DescriptorProducer>(file, offset)},
      DcmInputStream(producer.get()),
      file_(std::move(file)),
      start_(offset) {}

DescriptorInputStream::~DescriptorInputStream() = default;

offile_off_t DescriptorInputStream::read(void* buf, offile_off_t buflen) {
  offile_off_t got = DcmInputStream::read(buf, buflen);
  if (buf != nullptr && got >= 0 && got < buflen) {
    std::memset(static_cast<char*>(buf) + got, 0, static_cast<std::size_t>(buflen - got));
    file_->last_missing = static_cast<std::uint64_t>(buflen - got);
  }
  return got;
}

DcmInputStreamFactory* DescriptorInputStream::newFactory() const {
  // A compression filter (deflated transfer syntax) makes tell() an offset in the inflated
  // data, not in the file: DCMTK then reads every value at once, as for its own files.
  if (currentProducer() != producer.get()) return nullptr;
  return new DescriptorStreamFactory(file_, start_ + static_cast<std::uint64_t>(tell()));
}

}  // namespace metafs::extract::dicom
